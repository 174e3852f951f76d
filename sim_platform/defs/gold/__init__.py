"""Gold: day plots, module-day features, the quarterly training set and its schedules."""
