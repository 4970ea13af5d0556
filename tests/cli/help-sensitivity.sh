$NNPRESS sensitivity --help
