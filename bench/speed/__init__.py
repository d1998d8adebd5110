"""The sections of the speed benchmark, `bench/run.py` (its table of targets is there).

- `common`: the images, the set-up every section shares, timing helpers;
- `evaluation`: seconds per evaluation, the book's formulation against
  nst_teach's, throughput, each convolution with and without Winograd;
- `time_to_quality`: the book's schedule against coarse to fine;
- `processes`: what needs a fresh process (first preview, thread pools, memory);
- `report`: the tables, the verdicts on the targets and the plot.
"""
