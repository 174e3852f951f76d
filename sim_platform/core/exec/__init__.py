"""Execution: the one process pool, the one day scheduler, and the named crash points.

In: tasks of other packages. Out: their results, days scheduled largest first with the last days
split over every worker, and a worker's death reported as the failure of the days it held.
"""
