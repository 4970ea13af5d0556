$NNPRESS passes
