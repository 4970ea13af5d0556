$NNPRESS fold --help
