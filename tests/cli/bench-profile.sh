# --profile: a row per operator type that runs (Relu and Add of the residual CNN run
# inside the Convs they are fused into), then the slowest nodes, Convs first
out=$($NNPRESS bench testdata/resnet.onnx --threads 1 --warmup 0 --duration 0.05 --profile 2>/dev/null)
printf '%s\n' "$out" | awk '/^profile/{on=1; next} /^slowest/{on=0} on {print $1, $2}' | sort
printf '%s\n' "$out" | awk '/^slowest/{on=1; next} on {n++} END {print n, "slowest nodes"}'
printf '%s\n' "$out" | awk '/^slowest/{getline; print "the slowest is a", ($1 ~ /Conv/ ? "Conv" : $1)}'
