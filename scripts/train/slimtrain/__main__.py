"""python3 -m slimtrain (from scripts/train)."""
import sys

from .cli import main

sys.exit(main())
