"""Training: datasets, the network, training, evaluation, reports, distillation, ensembles.

Keras 3 on TensorFlow, installed with requirements-train.txt. It imports model/ (the run time);
nothing at run time (start, predict, the dashboard) imports it.
"""
