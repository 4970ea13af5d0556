$NNPRESS inspect --help
