// RUN: dilattn-opt %s -dilattn-decompose-multihead -split-input-file | FileCheck %s --enable-var-scope
// RUN: dilattn-opt %s -dilattn-decompose-multihead -split-input-file | dilattn-opt -split-input-file | FileCheck %s --enable-var-scope

// -dilattn-decompose-multihead rewrites dilattn.multihead_dilated_attention
// into docs/Contract.md section 2:
//
//   out = Wo-linear(LN(merge(DA(split(Wq-linear(query)),
//                               split(Wk-linear(key)),
//                               split(Wv-linear(value))))))
//
// Linear layers (y = x W^T + b) are a linalg.contract into an f32
// accumulator followed, when there is a bias or the element type is not f32,
// by one elementwise linalg.generic (bias add, rounding). The contraction's
// maps, checked by hand:
//
//   loops (d0, d1, d2, d3) = (b, n, o, e)
//   x   : (d0, d1, d3) -> x[b, n, e]
//   W   : (d2, d3)     -> W[o, e]
//   acc : (d0, d1, d2) -> acc[b, n, o]
//
// d3 = e appears in no output index, so it is the reduction:
//   acc[b, n, o] = sum_e x[b, n, e] * W[o, e] = (x W^T)[b, n, o],
// i.e. y[i, o] = sum_e x[i, e] * W[o, e] for every row i = (b, n): the
// torch.nn.Linear convention with W of shape (out_features, in_features).
// B and N stay separate dimensions (no (B*N, E) rows), so dynamic B and N
// never need a reshape with two dynamic sizes in one group.
//
// split is tensor.expand_shape [[0], [1], [2, 3]] (B, N, E) -> (B, N, H, D):
// row-major, so E index = h * D + d (head-major); merge is the inverse
// tensor.collapse_shape. The layer norm (present with layer_norm weight and
// bias) is f32: a sum reduction, the mean, a reduction of squared deviations
// (biased variance), 1 / sqrt(var + eps), and one elementwise generic
// (x - mean) * invStd * weight + bias whose f32 result feeds the out
// projection.

// Everything on: biases, layer norm (default eps 1e-5, as f32), both masks
// and every attribute forwarded to dilattn.dilated_attention.

// CHECK-DAG: #[[$MAP_X:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$MAP_W:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[$MAP_Y:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[$MAP_ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$MAP_COL:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[$MAP_ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$MAP_ID2:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @full_f32(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x16x8xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x16x8xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<2x16x8xf32>,
// CHECK-SAME: %[[WQ:[a-zA-Z0-9_]+]]: tensor<8x8xf32>, %[[WK:[a-zA-Z0-9_]+]]: tensor<8x8xf32>, %[[WV:[a-zA-Z0-9_]+]]: tensor<8x8xf32>, %[[WO:[a-zA-Z0-9_]+]]: tensor<8x8xf32>,
// CHECK-SAME: %[[BQ:[a-zA-Z0-9_]+]]: tensor<8xf32>, %[[BK:[a-zA-Z0-9_]+]]: tensor<8xf32>, %[[BV:[a-zA-Z0-9_]+]]: tensor<8xf32>, %[[BO:[a-zA-Z0-9_]+]]: tensor<8xf32>,
// CHECK-SAME: %[[GAMMA:[a-zA-Z0-9_]+]]: tensor<8xf32>, %[[BETA:[a-zA-Z0-9_]+]]: tensor<8xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x16xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<16x16xi1>)
// CHECK-DAG: %[[EPS:.+]] = arith.constant 9.99999974E-6 : f32
// CHECK-DAG: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[E:.+]] = arith.constant 8.000000e+00 : f32
// CHECK-DAG: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
//
// Q projection, then split.
// CHECK: %[[QE:.+]] = tensor.empty() : tensor<2x16x8xf32>
// CHECK-NEXT: %[[QF:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[QE]] : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
// CHECK-NEXT: %[[QACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[Q]], %[[WQ]] : tensor<2x16x8xf32>, tensor<8x8xf32>) outs(%[[QF]] : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
// CHECK-NEXT: %[[QBE:.+]] = tensor.empty() : tensor<2x16x8xf32>
// CHECK-NEXT: %[[QB:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID3]], #[[$MAP_COL]], #[[$MAP_ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[QACC]], %[[BQ]] : tensor<2x16x8xf32>, tensor<8xf32>) outs(%[[QBE]] : tensor<2x16x8xf32>) {
// CHECK-NEXT: ^bb0(%[[ACC:[a-zA-Z0-9_]+]]: f32, %[[BIAS:[a-zA-Z0-9_]+]]: f32, %{{[a-zA-Z0-9_]+}}: f32):
// CHECK-NEXT: %[[SUM:.+]] = arith.addf %[[ACC]], %[[BIAS]] : f32
// CHECK-NEXT: linalg.yield %[[SUM]] : f32
// CHECK-NEXT: } -> tensor<2x16x8xf32>
// CHECK-NEXT: %[[QH:.+]] = tensor.expand_shape %[[QB]] {{\[\[}}0], [1], [2, 3]] output_shape [2, 16, 2, 4] : tensor<2x16x8xf32> into tensor<2x16x2x4xf32>
//
// K and V projections: the same with their own weights and biases.
// CHECK: %[[KACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[K]], %[[WK]] : tensor<2x16x8xf32>, tensor<8x8xf32>)
// CHECK: %[[KB:.+]] = linalg.generic {{.*}} ins(%[[KACC]], %[[BK]] : tensor<2x16x8xf32>, tensor<8xf32>)
// CHECK: %[[KH:.+]] = tensor.expand_shape %[[KB]] {{\[\[}}0], [1], [2, 3]] output_shape [2, 16, 2, 4] : tensor<2x16x8xf32> into tensor<2x16x2x4xf32>
// CHECK: %[[VACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[V]], %[[WV]] : tensor<2x16x8xf32>, tensor<8x8xf32>)
// CHECK: %[[VB:.+]] = linalg.generic {{.*}} ins(%[[VACC]], %[[BV]] : tensor<2x16x8xf32>, tensor<8xf32>)
// CHECK: %[[VH:.+]] = tensor.expand_shape %[[VB]] {{\[\[}}0], [1], [2, 3]] output_shape [2, 16, 2, 4] : tensor<2x16x8xf32> into tensor<2x16x2x4xf32>
//
// Dilated attention with the masks and attributes as they are, then merge.
// CHECK-NEXT: %[[ATT:.+]] = dilattn.dilated_attention %[[QH]], %[[KH]], %[[VH]] key_padding_mask(%[[KPM]]) attn_mask(%[[AM]]) segment_lengths = [4, 8] dilation_rates = [1, 2] mode = longnet offset_rule = blocked causal scale = 2.500000e-01 : (tensor<2x16x2x4xf32>, tensor<2x16x2x4xf32>, tensor<2x16x2x4xf32>, tensor<2x16xi1>, tensor<16x16xi1>) -> tensor<2x16x2x4xf32>
// CHECK-NEXT: %[[MERGED:.+]] = tensor.collapse_shape %[[ATT]] {{\[\[}}0], [1], [2, 3]] : tensor<2x16x2x4xf32> into tensor<2x16x8xf32>
//
// Layer norm over E.
// CHECK-NEXT: %[[ROWS:.+]] = tensor.empty() : tensor<2x16xf32>
// CHECK-NEXT: %[[ROWZ:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[ROWS]] : tensor<2x16xf32>) -> tensor<2x16xf32>
// CHECK-NEXT: %[[LNE:.+]] = tensor.empty() : tensor<2x16x8xf32>
// CHECK-NEXT: %[[RSUM:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID3]], #[[$MAP_ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MERGED]] : tensor<2x16x8xf32>) outs(%[[ROWZ]] : tensor<2x16xf32>) {
// CHECK-NEXT: ^bb0(%[[X:[a-zA-Z0-9_]+]]: f32, %[[R:[a-zA-Z0-9_]+]]: f32):
// CHECK-NEXT: %[[T:.+]] = arith.addf %[[R]], %[[X]] : f32
// CHECK-NEXT: linalg.yield %[[T]] : f32
// CHECK-NEXT: } -> tensor<2x16xf32>
// CHECK-NEXT: %[[MEAN:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID2]], #[[$MAP_ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[RSUM]] : tensor<2x16xf32>) outs(%[[ROWS]] : tensor<2x16xf32>) {
// CHECK-NEXT: ^bb0(%[[S:[a-zA-Z0-9_]+]]: f32, %{{[a-zA-Z0-9_]+}}: f32):
// CHECK-NEXT: %[[T:.+]] = arith.divf %[[S]], %[[E]] : f32
// CHECK-NEXT: linalg.yield %[[T]] : f32
// CHECK-NEXT: } -> tensor<2x16xf32>
// CHECK-NEXT: %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID3]], #[[$MAP_ROW]], #[[$MAP_ROW]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MERGED]], %[[MEAN]] : tensor<2x16x8xf32>, tensor<2x16xf32>) outs(%[[ROWZ]] : tensor<2x16xf32>) {
// CHECK-NEXT: ^bb0(%[[X:[a-zA-Z0-9_]+]]: f32, %[[M:[a-zA-Z0-9_]+]]: f32, %[[R:[a-zA-Z0-9_]+]]: f32):
// CHECK-NEXT: %[[C:.+]] = arith.subf %[[X]], %[[M]] : f32
// CHECK-NEXT: %[[C2:.+]] = arith.mulf %[[C]], %[[C]] : f32
// CHECK-NEXT: %[[T:.+]] = arith.addf %[[R]], %[[C2]] : f32
// CHECK-NEXT: linalg.yield %[[T]] : f32
// CHECK-NEXT: } -> tensor<2x16xf32>
// CHECK-NEXT: %[[INV:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID2]], #[[$MAP_ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[SQ]] : tensor<2x16xf32>) outs(%[[ROWS]] : tensor<2x16xf32>) {
// CHECK-NEXT: ^bb0(%[[S:[a-zA-Z0-9_]+]]: f32, %{{[a-zA-Z0-9_]+}}: f32):
// CHECK-NEXT: %[[VAR:.+]] = arith.divf %[[S]], %[[E]] : f32
// CHECK-NEXT: %[[VE:.+]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK-NEXT: %[[SD:.+]] = math.sqrt %[[VE]] : f32
// CHECK-NEXT: %[[T:.+]] = arith.divf %[[ONE]], %[[SD]] : f32
// CHECK-NEXT: linalg.yield %[[T]] : f32
// CHECK-NEXT: } -> tensor<2x16xf32>
// CHECK-NEXT: %[[LN:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID3]], #[[$MAP_ROW]], #[[$MAP_ROW]], #[[$MAP_COL]], #[[$MAP_COL]], #[[$MAP_ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[MERGED]], %[[MEAN]], %[[INV]], %[[GAMMA]], %[[BETA]] : tensor<2x16x8xf32>, tensor<2x16xf32>, tensor<2x16xf32>, tensor<8xf32>, tensor<8xf32>) outs(%[[LNE]] : tensor<2x16x8xf32>) {
// CHECK-NEXT: ^bb0(%[[X:[a-zA-Z0-9_]+]]: f32, %[[M:[a-zA-Z0-9_]+]]: f32, %[[I:[a-zA-Z0-9_]+]]: f32, %[[G:[a-zA-Z0-9_]+]]: f32, %[[BT:[a-zA-Z0-9_]+]]: f32, %{{[a-zA-Z0-9_]+}}: f32):
// CHECK-NEXT: %[[C:.+]] = arith.subf %[[X]], %[[M]] : f32
// CHECK-NEXT: %[[NRM:.+]] = arith.mulf %[[C]], %[[I]] : f32
// CHECK-NEXT: %[[SC:.+]] = arith.mulf %[[NRM]], %[[G]] : f32
// CHECK-NEXT: %[[T:.+]] = arith.addf %[[SC]], %[[BT]] : f32
// CHECK-NEXT: linalg.yield %[[T]] : f32
// CHECK-NEXT: } -> tensor<2x16x8xf32>
//
// Out projection of the (f32) layer norm output.
// CHECK-NEXT: %[[OE:.+]] = tensor.empty() : tensor<2x16x8xf32>
// CHECK-NEXT: %[[OF:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[OE]] : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
// CHECK-NEXT: %[[OACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[LN]], %[[WO]] : tensor<2x16x8xf32>, tensor<8x8xf32>) outs(%[[OF]] : tensor<2x16x8xf32>) -> tensor<2x16x8xf32>
// CHECK-NEXT: %[[OBE:.+]] = tensor.empty() : tensor<2x16x8xf32>
// CHECK-NEXT: %[[OUT:.+]] = linalg.generic {indexing_maps = [#[[$MAP_ID3]], #[[$MAP_COL]], #[[$MAP_ID3]]], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[OACC]], %[[BO]] : tensor<2x16x8xf32>, tensor<8xf32>) outs(%[[OBE]] : tensor<2x16x8xf32>) {
// CHECK: return %[[OUT]] : tensor<2x16x8xf32>
// CHECK-NOT: dilattn.multihead_dilated_attention
func.func @full_f32(%q: tensor<2x16x8xf32>, %k: tensor<2x16x8xf32>, %v: tensor<2x16x8xf32>, %wq: tensor<8x8xf32>, %wk: tensor<8x8xf32>, %wv: tensor<8x8xf32>, %wo: tensor<8x8xf32>, %bq: tensor<8xf32>, %bk: tensor<8xf32>, %bv: tensor<8xf32>, %bo: tensor<8xf32>, %gamma: tensor<8xf32>, %beta: tensor<8xf32>, %kpm: tensor<2x16xi1>, %am: tensor<16x16xi1>) -> tensor<2x16x8xf32> {
  %0 = dilattn.multihead_dilated_attention %q, %k, %v weights(%wq, %wk, %wv, %wo) biases(%bq, %bk, %bv, %bo) layer_norm(%gamma, %beta) key_padding_mask(%kpm) attn_mask(%am)
      num_heads = 2 segment_lengths = [4, 8] dilation_rates = [1, 2] mode = longnet offset_rule = blocked causal scale = 0.25
      : (tensor<2x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<2x16xi1>, tensor<16x16xi1>) -> tensor<2x16x8xf32>
  return %0 : tensor<2x16x8xf32>
}

// -----

// No biases, no layer norm, f32: each projection is the contraction alone
// (no elementwise epilogue) and the merged heads go straight to Wo.

// CHECK-DAG: #[[$MAP_X:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$MAP_W:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[$MAP_Y:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @plain_f32(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<1x32x64xf32>, %[[WQ:[a-zA-Z0-9_]+]]: tensor<64x64xf32>, %[[WK:[a-zA-Z0-9_]+]]: tensor<64x64xf32>, %[[WV:[a-zA-Z0-9_]+]]: tensor<64x64xf32>, %[[WO:[a-zA-Z0-9_]+]]: tensor<64x64xf32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[QACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[X]], %[[WQ]] : tensor<1x32x64xf32>, tensor<64x64xf32>) outs(%{{.+}} : tensor<1x32x64xf32>) -> tensor<1x32x64xf32>
// CHECK-NEXT: %[[QH:.+]] = tensor.expand_shape %[[QACC]] {{\[\[}}0], [1], [2, 3]] output_shape [1, 32, 4, 16] : tensor<1x32x64xf32> into tensor<1x32x4x16xf32>
// CHECK: %[[KACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[X]], %[[WK]] : tensor<1x32x64xf32>, tensor<64x64xf32>)
// CHECK-NEXT: %[[KH:.+]] = tensor.expand_shape %[[KACC]] {{\[\[}}0], [1], [2, 3]] output_shape [1, 32, 4, 16]
// CHECK: %[[VACC:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[X]], %[[WV]] : tensor<1x32x64xf32>, tensor<64x64xf32>)
// CHECK-NEXT: %[[VH:.+]] = tensor.expand_shape %[[VACC]] {{\[\[}}0], [1], [2, 3]] output_shape [1, 32, 4, 16]
// CHECK-NEXT: %[[ATT:.+]] = dilattn.dilated_attention %[[QH]], %[[KH]], %[[VH]] segment_lengths = [8, 16] dilation_rates = [1, 2] : (tensor<1x32x4x16xf32>, tensor<1x32x4x16xf32>, tensor<1x32x4x16xf32>) -> tensor<1x32x4x16xf32>
// CHECK-NEXT: %[[MERGED:.+]] = tensor.collapse_shape %[[ATT]] {{\[\[}}0], [1], [2, 3]] : tensor<1x32x4x16xf32> into tensor<1x32x64xf32>
// CHECK-NOT: linalg.generic
// CHECK: %[[OUT:.+]] = linalg.contract indexing_maps = [#[[$MAP_X]], #[[$MAP_W]], #[[$MAP_Y]]] ins(%[[MERGED]], %[[WO]] : tensor<1x32x64xf32>, tensor<64x64xf32>) outs(%{{.+}} : tensor<1x32x64xf32>) -> tensor<1x32x64xf32>
// CHECK-NEXT: return %[[OUT]] : tensor<1x32x64xf32>
func.func @plain_f32(%x: tensor<1x32x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<64x64xf32>, %wv: tensor<64x64xf32>, %wo: tensor<64x64xf32>) -> tensor<1x32x64xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%wq, %wk, %wv, %wo) num_heads = 4 segment_lengths = [8, 16] dilation_rates = [1, 2]
      : (tensor<1x32x64xf32>, tensor<1x32x64xf32>, tensor<1x32x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<1x32x64xf32>
  return %0 : tensor<1x32x64xf32>
}

// -----

// Dynamic B and N: read once from the query, used for every tensor.empty and
// as the leading output_shape of each split.

// CHECK-LABEL: func.func @dynamic_f32(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<?x?x64xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<?x?x64xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<?x?x64xf32>, %[[W:[a-zA-Z0-9_]+]]: tensor<64x64xf32>, %[[BIAS:[a-zA-Z0-9_]+]]: tensor<64xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<?x?xi1>)
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK: %[[B:.+]] = tensor.dim %[[Q]], %[[C0]] : tensor<?x?x64xf32>
// CHECK-NEXT: %[[N:.+]] = tensor.dim %[[Q]], %[[C1]] : tensor<?x?x64xf32>
// CHECK-NEXT: %[[QE:.+]] = tensor.empty(%[[B]], %[[N]]) : tensor<?x?x64xf32>
// CHECK-NEXT: %[[QF:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[QE]] : tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[QACC:.+]] = linalg.contract {{.*}} ins(%[[Q]], %[[W]] : tensor<?x?x64xf32>, tensor<64x64xf32>) outs(%[[QF]] : tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[QBE:.+]] = tensor.empty(%[[B]], %[[N]]) : tensor<?x?x64xf32>
// CHECK-NEXT: %[[QB:.+]] = linalg.generic {{.*}} ins(%[[QACC]], %[[BIAS]] : tensor<?x?x64xf32>, tensor<64xf32>) outs(%[[QBE]] : tensor<?x?x64xf32>)
// CHECK: %[[QH:.+]] = tensor.expand_shape %[[QB]] {{\[\[}}0], [1], [2, 3]] output_shape [%[[B]], %[[N]], 4, 16] : tensor<?x?x64xf32> into tensor<?x?x4x16xf32>
// CHECK: linalg.contract {{.*}} ins(%[[K]], %[[W]] : tensor<?x?x64xf32>, tensor<64x64xf32>)
// CHECK: %[[KH:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [%[[B]], %[[N]], 4, 16] : tensor<?x?x64xf32> into tensor<?x?x4x16xf32>
// CHECK: linalg.contract {{.*}} ins(%[[V]], %[[W]] : tensor<?x?x64xf32>, tensor<64x64xf32>)
// CHECK: %[[VH:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [%[[B]], %[[N]], 4, 16] : tensor<?x?x64xf32> into tensor<?x?x4x16xf32>
// CHECK-NEXT: %[[ATT:.+]] = dilattn.dilated_attention %[[QH]], %[[KH]], %[[VH]] key_padding_mask(%[[KPM]]) segment_lengths = [16] dilation_rates = [2] : (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?xi1>) -> tensor<?x?x4x16xf32>
// CHECK-NEXT: %[[MERGED:.+]] = tensor.collapse_shape %[[ATT]] {{\[\[}}0], [1], [2, 3]] : tensor<?x?x4x16xf32> into tensor<?x?x64xf32>
// CHECK-NEXT: %[[OE:.+]] = tensor.empty(%[[B]], %[[N]]) : tensor<?x?x64xf32>
// CHECK-NEXT: %[[OF:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%[[OE]] : tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[OACC:.+]] = linalg.contract {{.*}} ins(%[[MERGED]], %[[W]] : tensor<?x?x64xf32>, tensor<64x64xf32>) outs(%[[OF]] : tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[OBE:.+]] = tensor.empty(%[[B]], %[[N]]) : tensor<?x?x64xf32>
// CHECK-NEXT: %[[OUT:.+]] = linalg.generic {{.*}} ins(%[[OACC]], %[[BIAS]] : tensor<?x?x64xf32>, tensor<64xf32>) outs(%[[OBE]] : tensor<?x?x64xf32>)
// CHECK: return %[[OUT]] : tensor<?x?x64xf32>
func.func @dynamic_f32(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %w: tensor<64x64xf32>, %b: tensor<64xf32>, %kpm: tensor<?x?xi1>) -> tensor<?x?x64xf32> {
  %0 = dilattn.multihead_dilated_attention %q, %k, %v weights(%w, %w, %w, %w) biases(%b, %b, %b, %b) key_padding_mask(%kpm) num_heads = 4 segment_lengths = [16] dilation_rates = [2]
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<?x?xi1>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// bf16: the contraction reads bf16 and accumulates into f32, the epilogue
// extends the bias, adds and rounds back to bf16; the layer norm (eps 1e-6,
// as f32) extends its bf16 inputs and its f32 output feeds Wo unrounded.

// CHECK-LABEL: func.func @bf16_layer_norm(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<2x128x32xbf16>, %[[W:[a-zA-Z0-9_]+]]: tensor<32x32xbf16>, %[[BIAS:[a-zA-Z0-9_]+]]: tensor<32xbf16>, %[[GAMMA:[a-zA-Z0-9_]+]]: tensor<32xbf16>, %[[BETA:[a-zA-Z0-9_]+]]: tensor<32xbf16>)
// CHECK-DAG: %[[EPS:.+]] = arith.constant 9.99999997E-7 : f32
// CHECK-DAG: %[[E:.+]] = arith.constant 3.200000e+01 : f32
// CHECK-DAG: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[QF:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.+}} : tensor<2x128x32xf32>) -> tensor<2x128x32xf32>
// CHECK-NEXT: %[[QACC:.+]] = linalg.contract {{.*}} ins(%[[X]], %[[W]] : tensor<2x128x32xbf16>, tensor<32x32xbf16>) outs(%[[QF]] : tensor<2x128x32xf32>) -> tensor<2x128x32xf32>
// CHECK-NEXT: %[[QBE:.+]] = tensor.empty() : tensor<2x128x32xbf16>
// CHECK-NEXT: %[[QB:.+]] = linalg.generic {{.*}} ins(%[[QACC]], %[[BIAS]] : tensor<2x128x32xf32>, tensor<32xbf16>) outs(%[[QBE]] : tensor<2x128x32xbf16>) {
// CHECK-NEXT: ^bb0(%[[ACC:[a-zA-Z0-9_]+]]: f32, %[[BB:[a-zA-Z0-9_]+]]: bf16, %{{[a-zA-Z0-9_]+}}: bf16):
// CHECK-NEXT: %[[BF:.+]] = arith.extf %[[BB]] : bf16 to f32
// CHECK-NEXT: %[[SUM:.+]] = arith.addf %[[ACC]], %[[BF]] : f32
// CHECK-NEXT: %[[RND:.+]] = arith.truncf %[[SUM]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[RND]] : bf16
// CHECK-NEXT: } -> tensor<2x128x32xbf16>
// CHECK-NEXT: %[[QH:.+]] = tensor.expand_shape %[[QB]] {{\[\[}}0], [1], [2, 3]] output_shape [2, 128, 2, 16] : tensor<2x128x32xbf16> into tensor<2x128x2x16xbf16>
// CHECK: %[[ATT:.+]] = dilattn.dilated_attention %[[QH]], %{{.+}}, %{{.+}} segment_lengths = [64, 128] dilation_rates = [1, 2] : (tensor<2x128x2x16xbf16>, tensor<2x128x2x16xbf16>, tensor<2x128x2x16xbf16>) -> tensor<2x128x2x16xbf16>
// CHECK-NEXT: %[[MERGED:.+]] = tensor.collapse_shape %[[ATT]] {{\[\[}}0], [1], [2, 3]] : tensor<2x128x2x16xbf16> into tensor<2x128x32xbf16>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MERGED]] : tensor<2x128x32xbf16>) outs(%{{.+}} : tensor<2x128xf32>) {
// CHECK-NEXT: ^bb0(%[[XB:[a-zA-Z0-9_]+]]: bf16, %[[R:[a-zA-Z0-9_]+]]: f32):
// CHECK-NEXT: %[[XF:.+]] = arith.extf %[[XB]] : bf16 to f32
// CHECK-NEXT: arith.addf %[[R]], %[[XF]] : f32
// CHECK: arith.divf %{{.+}}, %[[E]] : f32
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[MERGED]], %{{.+}} : tensor<2x128x32xbf16>, tensor<2x128xf32>) outs(%{{.+}} : tensor<2x128xf32>) {
// CHECK: arith.addf %{{.+}}, %[[EPS]] : f32
// CHECK: %[[LN:.+]] = linalg.generic {{.*}} ins(%[[MERGED]], %{{.+}}, %{{.+}}, %[[GAMMA]], %[[BETA]] : tensor<2x128x32xbf16>, tensor<2x128xf32>, tensor<2x128xf32>, tensor<32xbf16>, tensor<32xbf16>) outs(%{{.+}} : tensor<2x128x32xf32>) {
// CHECK-NEXT: ^bb0(%[[XB:[a-zA-Z0-9_]+]]: bf16, %[[M:[a-zA-Z0-9_]+]]: f32, %[[I:[a-zA-Z0-9_]+]]: f32, %[[G:[a-zA-Z0-9_]+]]: bf16, %[[BT:[a-zA-Z0-9_]+]]: bf16, %{{[a-zA-Z0-9_]+}}: f32):
// CHECK-NEXT: %[[XF:.+]] = arith.extf %[[XB]] : bf16 to f32
// CHECK-NEXT: %[[C:.+]] = arith.subf %[[XF]], %[[M]] : f32
// CHECK-NEXT: %[[NRM:.+]] = arith.mulf %[[C]], %[[I]] : f32
// CHECK-NEXT: %[[GF:.+]] = arith.extf %[[G]] : bf16 to f32
// CHECK-NEXT: %[[SC:.+]] = arith.mulf %[[NRM]], %[[GF]] : f32
// CHECK-NEXT: %[[BTF:.+]] = arith.extf %[[BT]] : bf16 to f32
// CHECK-NEXT: %[[T:.+]] = arith.addf %[[SC]], %[[BTF]] : f32
// CHECK-NEXT: linalg.yield %[[T]] : f32
// CHECK-NEXT: } -> tensor<2x128x32xf32>
// CHECK: %[[OACC:.+]] = linalg.contract {{.*}} ins(%[[LN]], %[[W]] : tensor<2x128x32xf32>, tensor<32x32xbf16>) outs(%{{.+}} : tensor<2x128x32xf32>) -> tensor<2x128x32xf32>
// CHECK: %[[OUT:.+]] = linalg.generic {{.*}} ins(%[[OACC]], %[[BIAS]] : tensor<2x128x32xf32>, tensor<32xbf16>) outs(%{{.+}} : tensor<2x128x32xbf16>) {
// CHECK: arith.truncf %{{.+}} : f32 to bf16
// CHECK: return %[[OUT]] : tensor<2x128x32xbf16>
func.func @bf16_layer_norm(%x: tensor<2x128x32xbf16>, %w: tensor<32x32xbf16>, %b: tensor<32xbf16>, %gamma: tensor<32xbf16>, %beta: tensor<32xbf16>) -> tensor<2x128x32xbf16> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) biases(%b, %b, %b, %b) layer_norm(%gamma, %beta) num_heads = 2 segment_lengths = [64, 128] dilation_rates = [1, 2] layer_norm_eps = 1.0e-6
      : (tensor<2x128x32xbf16>, tensor<2x128x32xbf16>, tensor<2x128x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32xbf16>, tensor<32xbf16>, tensor<32xbf16>, tensor<32xbf16>, tensor<32xbf16>, tensor<32xbf16>) -> tensor<2x128x32xbf16>
  return %0 : tensor<2x128x32xbf16>
}

// -----

// bf16 without biases, dynamic B and N: the epilogue only rounds.

// CHECK-LABEL: func.func @bf16_dynamic_no_bias(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<?x?x32xbf16>, %[[W:[a-zA-Z0-9_]+]]: tensor<32x32xbf16>)
// CHECK: %[[B:.+]] = tensor.dim %[[X]], %{{.+}} : tensor<?x?x32xbf16>
// CHECK-NEXT: %[[N:.+]] = tensor.dim %[[X]], %{{.+}} : tensor<?x?x32xbf16>
// CHECK: %[[QACC:.+]] = linalg.contract {{.*}} ins(%[[X]], %[[W]] : tensor<?x?x32xbf16>, tensor<32x32xbf16>) outs(%{{.+}} : tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
// CHECK-NEXT: %[[QBE:.+]] = tensor.empty(%[[B]], %[[N]]) : tensor<?x?x32xbf16>
// CHECK-NEXT: %[[QB:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #{{.+}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[QACC]] : tensor<?x?x32xf32>) outs(%[[QBE]] : tensor<?x?x32xbf16>) {
// CHECK-NEXT: ^bb0(%[[ACC:[a-zA-Z0-9_]+]]: f32, %{{[a-zA-Z0-9_]+}}: bf16):
// CHECK-NEXT: %[[RND:.+]] = arith.truncf %[[ACC]] : f32 to bf16
// CHECK-NEXT: linalg.yield %[[RND]] : bf16
// CHECK-NEXT: } -> tensor<?x?x32xbf16>
// CHECK-NEXT: tensor.expand_shape %[[QB]] {{\[\[}}0], [1], [2, 3]] output_shape [%[[B]], %[[N]], 2, 16] : tensor<?x?x32xbf16> into tensor<?x?x2x16xbf16>
// CHECK: dilattn.dilated_attention {{.*}} : (tensor<?x?x2x16xbf16>, tensor<?x?x2x16xbf16>, tensor<?x?x2x16xbf16>) -> tensor<?x?x2x16xbf16>
// CHECK: %[[OUT:.+]] = linalg.generic
// CHECK: arith.truncf
// CHECK: return %[[OUT]] : tensor<?x?x32xbf16>
func.func @bf16_dynamic_no_bias(%x: tensor<?x?x32xbf16>, %w: tensor<32x32xbf16>) -> tensor<?x?x32xbf16> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) num_heads = 2 segment_lengths = [64] dilation_rates = [1]
      : (tensor<?x?x32xbf16>, tensor<?x?x32xbf16>, tensor<?x?x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>) -> tensor<?x?x32xbf16>
  return %0 : tensor<?x?x32xbf16>
}

// -----

// f16 with a float (B, H, N, N) attn_mask: passed on unchanged (mask
// normalisation is a separate pass), with H = num_heads.

// CHECK-LABEL: func.func @f16_float_attn_mask(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<1x64x16xf16>, %[[W:[a-zA-Z0-9_]+]]: tensor<16x16xf16>, %[[AM:[a-zA-Z0-9_]+]]: tensor<1x4x64x64xf16>)
// CHECK: %[[QH:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0], [1], [2, 3]] output_shape [1, 64, 4, 4] : tensor<1x64x16xf16> into tensor<1x64x4x4xf16>
// CHECK: %[[KH:.+]] = tensor.expand_shape
// CHECK: %[[VH:.+]] = tensor.expand_shape
// CHECK-NEXT: dilattn.dilated_attention %[[QH]], %[[KH]], %[[VH]] attn_mask(%[[AM]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet : (tensor<1x64x4x4xf16>, tensor<1x64x4x4xf16>, tensor<1x64x4x4xf16>, tensor<1x4x64x64xf16>) -> tensor<1x64x4x4xf16>
// CHECK-NOT: mask_to_bias
// CHECK: return %{{.+}} : tensor<1x64x16xf16>
func.func @f16_float_attn_mask(%x: tensor<1x64x16xf16>, %w: tensor<16x16xf16>, %am: tensor<1x4x64x64xf16>) -> tensor<1x64x16xf16> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) attn_mask(%am) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet
      : (tensor<1x64x16xf16>, tensor<1x64x16xf16>, tensor<1x64x16xf16>, tensor<16x16xf16>, tensor<16x16xf16>, tensor<16x16xf16>, tensor<16x16xf16>, tensor<1x4x64x64xf16>) -> tensor<1x64x16xf16>
  return %0 : tensor<1x64x16xf16>
}

// -----

// Dynamic E: D = E / num_heads at run time, and the layer norm divides by
// E converted to f32.

// CHECK-LABEL: func.func @dynamic_embed(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<?x?x?xf32>, %[[W:[a-zA-Z0-9_]+]]: tensor<?x?xf32>
// CHECK-DAG: %[[C4:.+]] = arith.constant 4 : index
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK: %[[B:.+]] = tensor.dim %[[X]], %[[C0]] : tensor<?x?x?xf32>
// CHECK-NEXT: %[[N:.+]] = tensor.dim %[[X]], %[[C1]] : tensor<?x?x?xf32>
// CHECK-NEXT: %[[E:.+]] = tensor.dim %[[X]], %[[C2]] : tensor<?x?x?xf32>
// CHECK-NEXT: %[[D:.+]] = arith.divui %[[E]], %[[C4]] : index
// CHECK-NEXT: tensor.empty(%[[B]], %[[N]], %[[E]]) : tensor<?x?x?xf32>
// CHECK: %[[QACC:.+]] = linalg.contract {{.*}} ins(%[[X]], %[[W]] : tensor<?x?x?xf32>, tensor<?x?xf32>)
// CHECK-NEXT: %[[QH:.+]] = tensor.expand_shape %[[QACC]] {{\[\[}}0], [1], [2, 3]] output_shape [%[[B]], %[[N]], 4, %[[D]]] : tensor<?x?x?xf32> into tensor<?x?x4x?xf32>
// CHECK: dilattn.dilated_attention %[[QH]], {{.*}} : (tensor<?x?x4x?xf32>, tensor<?x?x4x?xf32>, tensor<?x?x4x?xf32>) -> tensor<?x?x4x?xf32>
// CHECK: %[[EI:.+]] = arith.index_castui %[[E]] : index to i64
// CHECK-NEXT: %[[EF:.+]] = arith.uitofp %[[EI]] : i64 to f32
// CHECK: arith.divf %{{.+}}, %[[EF]] : f32
// CHECK: %[[OUT:.+]] = linalg.contract
// CHECK-NEXT: return %[[OUT]] : tensor<?x?x?xf32>
func.func @dynamic_embed(%x: tensor<?x?x?xf32>, %w: tensor<?x?xf32>, %gamma: tensor<?xf32>, %beta: tensor<?xf32>) -> tensor<?x?x?xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) layer_norm(%gamma, %beta) num_heads = 4 segment_lengths = [8] dilation_rates = [1]
      : (tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?xf32>, tensor<?xf32>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// -----

// Static sizes known from any operand or the result reach every operand
// through tensor.cast, so the ops built see one static shape.

// CHECK-LABEL: func.func @refine_static_sizes(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<?x16x?xf32>, %[[KV:[a-zA-Z0-9_]+]]: tensor<2x?x64xf32>, %[[W:[a-zA-Z0-9_]+]]: tensor<64x64xf32>, %[[WK:[a-zA-Z0-9_]+]]: tensor<?x64xf32>)
// CHECK-NOT: tensor.dim
// CHECK: %[[QS:.+]] = tensor.cast %[[Q]] : tensor<?x16x?xf32> to tensor<2x16x64xf32>
// CHECK-NEXT: %[[KS:.+]] = tensor.cast %[[KV]] : tensor<2x?x64xf32> to tensor<2x16x64xf32>
// CHECK-NEXT: %[[VS:.+]] = tensor.cast %[[KV]] : tensor<2x?x64xf32> to tensor<2x16x64xf32>
// CHECK: linalg.contract {{.*}} ins(%[[QS]], %[[W]] : tensor<2x16x64xf32>, tensor<64x64xf32>)
// CHECK: %[[WKS:.+]] = tensor.cast %[[WK]] : tensor<?x64xf32> to tensor<64x64xf32>
// CHECK: linalg.contract {{.*}} ins(%[[KS]], %[[WKS]] : tensor<2x16x64xf32>, tensor<64x64xf32>)
// CHECK: linalg.contract {{.*}} ins(%[[VS]], %[[W]] : tensor<2x16x64xf32>, tensor<64x64xf32>)
// CHECK: dilattn.dilated_attention {{.*}} -> tensor<2x16x4x16xf32>
// CHECK-NEXT: %[[MERGED:.+]] = tensor.collapse_shape
// CHECK: %[[OUT:.+]] = linalg.contract {{.*}} ins(%[[MERGED]], %[[W]] : {{.*}} -> tensor<2x16x64xf32>
// CHECK-NEXT: return %[[OUT]] : tensor<2x16x64xf32>
func.func @refine_static_sizes(%q: tensor<?x16x?xf32>, %kv: tensor<2x?x64xf32>, %w: tensor<64x64xf32>, %wk: tensor<?x64xf32>) -> tensor<2x16x64xf32> {
  %0 = dilattn.multihead_dilated_attention %q, %kv, %kv weights(%w, %wk, %w, %w) num_heads = 4 segment_lengths = [8] dilation_rates = [1]
      : (tensor<?x16x?xf32>, tensor<2x?x64xf32>, tensor<2x?x64xf32>, tensor<64x64xf32>, tensor<?x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<2x16x64xf32>
  return %0 : tensor<2x16x64xf32>
}

// -----

// A result type less static than the computation: cast at the end.

// CHECK-LABEL: func.func @dynamic_result(
// CHECK: %[[MERGED:.+]] = tensor.collapse_shape
// CHECK: %[[OUT:.+]] = linalg.contract {{.*}} ins(%[[MERGED]], {{.*}} -> tensor<2x16x8xf32>
// CHECK-NEXT: %[[CAST:.+]] = tensor.cast %[[OUT]] : tensor<2x16x8xf32> to tensor<?x?x8xf32>
// CHECK-NEXT: return %[[CAST]] : tensor<?x?x8xf32>
func.func @dynamic_result(%x: tensor<2x16x8xf32>, %w: tensor<8x8xf32>) -> tensor<?x?x8xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) num_heads = 2 segment_lengths = [8] dilation_rates = [1]
      : (tensor<2x16x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<?x?x8xf32>
  return %0 : tensor<?x?x8xf32>
}

// -----

// Every block of a function is decomposed, including one fed by another.

// CHECK-LABEL: func.func @two_blocks(
// CHECK-NOT: dilattn.multihead_dilated_attention
// CHECK: %[[FIRST:.+]] = dilattn.dilated_attention
// CHECK: %[[MERGED:.+]] = tensor.collapse_shape %[[FIRST]]
// CHECK: %[[MID:.+]] = linalg.contract {{.*}} ins(%[[MERGED]], %{{.+}} : tensor<1x16x8xf32>, tensor<8x8xf32>)
// CHECK: linalg.contract {{.*}} ins(%[[MID]], %{{.+}} : tensor<1x16x8xf32>, tensor<8x8xf32>)
// CHECK: dilattn.dilated_attention
// CHECK-NOT: dilattn.multihead_dilated_attention
// CHECK: return
func.func @two_blocks(%x: tensor<1x16x8xf32>, %w: tensor<8x8xf32>) -> tensor<1x16x8xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) num_heads = 2 segment_lengths = [4, 8] dilation_rates = [1, 2]
      : (tensor<1x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<1x16x8xf32>
  %1 = dilattn.multihead_dilated_attention %0, %0, %0 weights(%w, %w, %w, %w) num_heads = 2 segment_lengths = [4, 8] dilation_rates = [1, 2]
      : (tensor<1x16x8xf32>, tensor<1x16x8xf32>, tensor<1x16x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<1x16x8xf32>
  return %1 : tensor<1x16x8xf32>
}
