// A training step's attention on tensors (issue 18): the forward with its
// statistics, then the gradients. backward.test runs it in module mode and
// compares with dilattn-run --backward on the same inputs.
func.func @train(%q: tensor<2x64x4x16xf32>, %do: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) {
  %o, %lse = dilattn.dilated_attention_with_lse %q, %q, %q key_padding_mask(%m)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4xf32>)
  %dq, %dk, %dv = dilattn.dilated_attention_grad %q, %q, %q, %o, %lse, %do key_padding_mask(%m)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>)
  return %dq, %dk, %dv : tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>
}
