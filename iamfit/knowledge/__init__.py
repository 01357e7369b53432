"""What AWS requires, from data, loaded lazily (nothing is read at import time)."""
