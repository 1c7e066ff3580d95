"""Detection models of the notes' chapter 4.3: localization, sliding windows, YOLO.

`params` holds the torch-free hyperparameter schemas (cheap to validate in any stage);
`registry` maps each detector name to its schema and builder (`build_detector`). Every
convolutional zoo architecture (traindev.models.registry) can serve as a YOLO feature
extractor or a localization backbone, beside Darknet-19 and a small Darknet-style backbone.
"""
