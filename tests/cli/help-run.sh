$NNPRESS run --help
