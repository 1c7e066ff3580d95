"""Classification on the seam: adapters over the existing data, training and evaluation code.

One softmax over the manifest's `label`, or (train.multilabel) a sigmoid per yes / no label.
The adapters call the code that was there before the seam, so the default's weights and
errors are bit-identical to the pipeline before it.
"""
