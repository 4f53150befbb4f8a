"""The twin's use cases: advice (`advice`), the clients' chat (`chat`)."""
