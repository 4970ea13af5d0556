# a model against itself: full agreement, no error; the versions block left out
$NNPRESS eval testdata/lenet5.onnx --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --labels /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz \
    --reference testdata/lenet5.onnx --batch 512 --threads 1 --json | sed '/"versions"/,$d'
