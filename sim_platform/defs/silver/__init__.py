"""Silver: the 5-second hour files, their checks, and the IO manager that stores and loads them."""
