"""add_torch: PyTorch for ADD Studio's architecture cards. One definition of the network
(`network`) serves training at scale (`train`: torchrun + DistributedDataParallel, bf16),
benchmarking against `add bench` (`peer`) and parity with `add`. Its models are our
`.safetensors` files, which the app and every `add` command open."""
