"""Tools for the tests, the benches and the screenshots (not used by the lab itself): the lab
started as its own process (:mod:`~hw3lab.devtools.running_lab`), random-initialised
checkpoints (:mod:`~hw3lab.devtools.random_checkpoints`) and the browser steps
(:mod:`~hw3lab.devtools.browser`)."""
