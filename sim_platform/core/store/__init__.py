"""Storage of a day: where hour files go and how a day is replaced whole or not at all.

In: encoded hour files and reports of a day. Out: the `phase{p}_module{m}/YYYY/MM/DD/HH.parquet`
hierarchy in a folder (staged, journalled, swapped, fsynced) or a blob container, and the one way
to read a stored (hierarchy, day) back.
"""
