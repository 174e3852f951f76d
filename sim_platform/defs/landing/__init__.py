"""Landing: simulation runs uploaded to the container, and every raw file in it as one asset; the blob sensor."""
