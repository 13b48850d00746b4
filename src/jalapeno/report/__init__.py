"""Report: rendering for the commands and docs: terminal tables, number formats, markdown doc pages
(``validation_doc``, ``published_doc``), SVG plots and the HTML report of a study.

Layer (docs/extending.md#layers): above explore. May import explore and everything below it (cost for the
rows it renders, hardware for spec sheets); never studies, measure or commands.
"""
