"""Code that runs inside the platform's containers, shipped by the program (linted, typed, tested here)."""
