$NNPRESS quantize --help
