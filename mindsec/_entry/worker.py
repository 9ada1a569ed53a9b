"""The script ``msrun`` starts for ``mindsec <command> --workers N``: one per worker (and
one as msrun's scheduler). It lives in a directory of its own so that running it as a file
puts nothing of mindsec's on ``sys.path`` beside it."""
import sys

from mindsec.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
