$NNPRESS bench --help
