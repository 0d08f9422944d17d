"""Datasets and the sample anatomies (`mrigan.data.samples`)."""
