"""Research digests: the twin's advice delivered on a schedule, under communications rules."""
