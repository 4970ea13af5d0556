$NNPRESS --help
