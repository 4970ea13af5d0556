$NNPRESS compress --help
