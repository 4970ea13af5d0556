$NNPRESS inspect --json --scale 1 /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
