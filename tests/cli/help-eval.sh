$NNPRESS eval --help
