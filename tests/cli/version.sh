$NNPRESS --version | sed "s/ (.*//"
