"""What the pipeline learns: one package per task behind one seam.

`task` in params picks a task (classification today; detection, segmentation and verification
through the same seam). A task owns its targets in the data contract, its heads and loss, its
per-split metrics, its per-example error (the unit of the five-row table and its bootstrap), its
error types and its report sections; the stages, the flows, MLflow, selection and the report stay
one pipeline. See docs/tasks.md.
"""
