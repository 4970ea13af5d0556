# calibrated on training images, measured on test images; dynamic mode, no labels: SQNR only
D=/usr/share/datasets/fashion-mnist
$NNPRESS sensitivity testdata/lenet5.onnx --data $D/train-images-idx3-ubyte.gz \
    --eval-data $D/t10k-images-idx3-ubyte.gz --samples 200 --mode dynamic -t 2
