$NNPRESS inspect
