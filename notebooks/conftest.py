"""The notebooks under pytest (nbval): small, quick and offline.

nbval starts each notebook's kernel as a subprocess of pytest, and a kernel
inherits pytest's environment, so setting the variables here reaches every
notebook's parameters cell. Set NST_TEACH_FAST=0 to run them at full size.
"""

import os

os.environ.setdefault("NST_TEACH_FAST", "1")
os.environ.setdefault("NST_TEACH_OFFLINE", "1")  # never knock on the VGG19 server
