$NNPRESS inspect testdata
