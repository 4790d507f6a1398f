"""Figures and tables for Snakemake's HTML report (`snakemake --report report.html`), one module per job:

- `figures`: the pictures of one (video, scale) (the `stdo report` stage);
- `hardest`: the models of every method run on the clip's hardest patch, for one of those pictures;
- `tables`: the comparison and benchmark tables as HTML pages (the `stdo report-tables` stage);
- `document`: titled tables and notes written as Markdown or HTML (the aggregate's .md files use it too).

Nothing is imported here: a stage pays only for the modules it uses."""
