$NNPRESS inspect /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
