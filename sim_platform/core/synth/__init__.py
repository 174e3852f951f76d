"""Synthesis: generated telemetry exports and HDF5 runs with the real sample's statistics,
including its rare cases (fault states, glitches, new series, exporter drift, outages).
"""
