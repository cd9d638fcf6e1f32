"""Start the hw3lab: ``python app.py [--data DIR] [--checkpoints DIR] [--port N] [--host H]
[--share] [--auth USER:PASS]`` (see ``hw3lab/ui/app.py``)."""

import os
import sys

# Offline and private by default: no analytics, no model hub look-ups. Set before gradio loads.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

if __name__ == "__main__":
    from hw3lab.ui.app import main

    sys.exit(main())
