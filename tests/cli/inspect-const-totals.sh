# weights stored in Constant nodes count as weights: lenet5_const (every initializer
# of lenet5 rewritten into a Constant node) has lenet5's per-layer table and totals
$NNPRESS inspect testdata/lenet5.onnx | sed -n '/^layer/,$p'
$NNPRESS inspect testdata/lenet5_const.onnx | sed -n '/^layer/,$p'
