$NNPRESS inspect --scale abc /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
