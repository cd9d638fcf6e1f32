"""One module per tab: each declares its widgets and wires their events to :mod:`hw3lab.lab`
operations; none imports another (shared pieces live in :mod:`hw3lab.ui.widgets` and
:mod:`hw3lab.ui.tsne_panel`)."""
