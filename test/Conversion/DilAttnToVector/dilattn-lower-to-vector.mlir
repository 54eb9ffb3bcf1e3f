// RUN: rm -rf %t && split-file %s %t
// RUN: dilattn-opt %t/lower.mlir -split-input-file -dilattn-lower-to-vector="outline=false" | FileCheck %t/lower.mlir --enable-var-scope
// RUN: dilattn-opt %t/lower.mlir -split-input-file -dilattn-lower-to-vector="outline=false tile-queries=2 tile-keys=32" | FileCheck %t/lower.mlir --enable-var-scope --check-prefix=TILE
// RUN: dilattn-opt %t/lower.mlir -split-input-file -dilattn-lower-to-vector="outline=false vector-width=16 tile-keys=32" | FileCheck %t/lower.mlir --enable-var-scope --check-prefix=WIDE
// RUN: dilattn-opt %t/outline.mlir -split-input-file -dilattn-lower-to-vector | FileCheck %t/outline.mlir --enable-var-scope
// RUN: dilattn-opt %t/grouped.mlir -dilattn-tile-segments -dilattn-lower-to-vector | FileCheck %t/grouped.mlir --enable-var-scope
// RUN: dilattn-opt %t/grad.mlir -split-input-file -dilattn-lower-to-vector="outline=false tile-queries=2" -canonicalize -cse | FileCheck %t/grad.mlir --enable-var-scope
// RUN: dilattn-opt %t/grad-outline.mlir -dilattn-tile-segments -dilattn-lower-to-vector | FileCheck %t/grad-outline.mlir --enable-var-scope
// RUN: dilattn-opt %t/invalid.mlir -split-input-file -dilattn-lower-to-vector -verify-diagnostics
// RUN: dilattn-opt %t/bad-options.mlir -dilattn-lower-to-vector="vector-width=0" -verify-diagnostics
// RUN: dilattn-opt %t/bad-options.mlir -dilattn-lower-to-vector="tile-keys=0" -verify-diagnostics
// RUN: dilattn-opt %t/bad-options.mlir -dilattn-lower-to-vector="tile-keys=12" -verify-diagnostics
// RUN: dilattn-opt %t/bad-options.mlir -dilattn-lower-to-vector="tile-queries=0" -verify-diagnostics

// Lowering of dilattn.segment_attention and dilattn.write_states to scf +
// vector (+ arith, math, memref): key blocks of tile-keys keys packed
// transposed into a stack buffer, query tiles of tile-queries rows whose
// scores accumulate with vector.fma in vector-width lanes, online softmax in
// log2 units with a polynomial exp2, masks and causal limits as selects.
//
// lower.mlir checks the kernel code in place (outline=false); outline.mlir
// checks the default outlining of segment attentions into shared private
// functions named after their kernel; grouped.mlir checks that the tiler's
// segment attentions of a grouped call with rates [1, 2] share one function;
// invalid.mlir and bad-options.mlir check the refusals. grad.mlir checks the
// backward's segment_attention_grad (and write_states with lse);
// grad-outline.mlir that the backward's segment ops share one function too.

//--- lower.mlir

// D = 64, no biases, not causal; default options (vector-width 8,
// tile-queries 4, tile-keys 16).
// CHECK-LABEL: func.func @segment_d64(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x64xf32>, %[[K:[a-zA-Z0-9_]+]]: memref<?x64xf32>, %[[V:[a-zA-Z0-9_]+]]: memref<?x64xf32>, %[[MAX:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[SUM:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[ACC:[a-zA-Z0-9_]+]]: memref<?x64xf32>)
// Scratch buffers at function entry: probabilities (tile-queries x tile-keys)
// and the packed keys (D x tile-keys).
// CHECK-NEXT: %[[PROBS:.+]] = memref.alloca() : memref<4x16xf32>
// CHECK-NEXT: %[[PACKED:.+]] = memref.alloca() : memref<64x16xf32>
// CHECK-NOT: memref.alloca
// CHECK: %[[NQ:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x64xf32>
// CHECK: %[[NK:.+]] = memref.dim %[[K]], %{{.+}} : memref<?x64xf32>
// CHECK: %[[TK:.+]] = arith.constant 16 : index
// CHECK: scf.for %[[KS:.+]] = %{{.+}} to %[[NK]] step %[[TK]] {
// CHECK-NEXT: %[[LEFT:.+]] = arith.subi %[[NK]], %[[KS]] : index
// CHECK-NEXT: %[[KCOUNT:.+]] = arith.minui %[[TK]], %[[LEFT]] : index
// The block is packed transposed, Kt[d][j] = K[min(key_start + j, nk - 1)][d],
// in loops over the 16 keys and the 64 elements.
// CHECK-NEXT: %{{.+}} = arith.constant 1 : index
// CHECK-NEXT: %[[LAST:.+]] = arith.subi %[[NK]], %{{.+}} : index
// CHECK: %[[PJEND:.+]] = arith.constant 16 : index
// CHECK: scf.for %[[PJ:.+]] = %{{.+}} to %[[PJEND]] step %{{.+}} {
// CHECK-NEXT: %[[PKEY:.+]] = arith.addi %[[KS]], %[[PJ]] : index
// CHECK-NEXT: %[[PROW:.+]] = arith.minui %[[PKEY]], %[[LAST]] : index
// CHECK: %[[PDEND:.+]] = arith.constant 64 : index
// CHECK: scf.for %[[PD:.+]] = %{{.+}} to %[[PDEND]] step %{{.+}} {
// CHECK-NEXT: %[[KE:.+]] = memref.load %[[K]][%[[PROW]], %[[PD]]] : memref<?x64xf32>
// CHECK-NEXT: memref.store %[[KE]], %[[PACKED]][%[[PD]], %[[PJ]]] : memref<64x16xf32>
// CHECK-NEXT: }
// CHECK-NEXT: }
// Valid key lanes of the block: lane < key count.
// CHECK: %[[CNT:.+]] = arith.index_cast %[[KCOUNT]] : index to i32
// CHECK-NEXT: %[[CNTV:.+]] = vector.broadcast %[[CNT]] : i32 to vector<8xi32>
// CHECK: %[[LANES0:.+]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : vector<8xi32>
// CHECK-NEXT: %[[VALID0:.+]] = arith.cmpi slt, %[[LANES0]], %[[CNTV]] : vector<8xi32>
// CHECK: %[[LANES1:.+]] = arith.constant dense<[8, 9, 10, 11, 12, 13, 14, 15]> : vector<8xi32>
// CHECK-NEXT: %[[VALID1:.+]] = arith.cmpi slt, %[[LANES1]], %[[CNTV]] : vector<8xi32>
// No bias loads without biases.
// CHECK-NOT: vector.from_elements
// Query tiles of 4 rows, then the remaining rows one by one.
// CHECK: %[[TQ:.+]] = arith.constant 4 : index
// CHECK: scf.for %[[ROW:.+]] = %{{.+}} to %[[MAINEND:.+]] step %[[TQ]] {
// Scores: 4 rows x 2 vectors of 8 keys in registers, one FMA per register per
// head-dim element.
// CHECK: %[[SCORES:.+]]:8 = scf.for %[[D:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-NEXT: arith.constant 0 : index
// CHECK-NEXT: %[[KV0:.+]] = vector.load %[[PACKED]][%[[D]], %{{.+}}] : memref<64x16xf32>, vector<8xf32>
// CHECK-NEXT: arith.constant 8 : index
// CHECK-NEXT: %[[KV1:.+]] = vector.load %[[PACKED]][%[[D]], %{{.+}}] : memref<64x16xf32>, vector<8xf32>
// CHECK: %[[QE:.+]] = memref.load %[[Q]][%{{.+}}, %[[D]]] : memref<?x64xf32>
// CHECK-NEXT: %[[QB:.+]] = vector.broadcast %[[QE]] : f32 to vector<8xf32>
// CHECK-NEXT: vector.fma %[[QB]], %[[KV0]], %{{.+}} : vector<8xf32>
// CHECK-NEXT: vector.fma %[[QB]], %[[KV1]], %{{.+}} : vector<8xf32>
// CHECK-COUNT-6: vector.fma %{{.+}}, %{{.+}}, %{{.+}} : vector<8xf32>
// CHECK-NEXT: scf.yield
// Scores in log2 units: scale * log2(e) = 0.125 * 1.4427, then invalid keys
// get -inf.
// CHECK: %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : vector<8xf32>
// CHECK-NEXT: %[[SCALE:.+]] = arith.constant dense<0.180336878> : vector<8xf32>
// CHECK: %[[S0:.+]] = vector.fma %[[SCORES]]#0, %[[SCALE]], %{{.+}} : vector<8xf32>
// CHECK-NEXT: %{{.+}} = arith.select %[[VALID0]], %[[S0]], %[[NEGINF]] : vector<8xi1>, vector<8xf32>
// CHECK-NEXT: %[[S1:.+]] = vector.fma %[[SCORES]]#1, %[[SCALE]], %{{.+}} : vector<8xf32>
// CHECK-NEXT: %{{.+}} = arith.select %[[VALID1]], %[[S1]], %[[NEGINF]] : vector<8xi1>, vector<8xf32>
// No causal limit.
// CHECK-NOT: arith.cmpi sle
// Online softmax: row maximum, new running maximum (0 shift for all-masked
// rows), exp2 by polynomial and exponent bits.
// CHECK: %[[RMV:.+]] = arith.maxnumf %{{.+}}, %{{.+}} : vector<8xf32>
// CHECK-NEXT: %[[RM:.+]] = vector.reduction <maxnumf>, %[[RMV]] : vector<8xf32> into f32
// CHECK-NEXT: %[[OLDMAX:.+]] = memref.load %[[MAX]][%{{.+}}] : memref<?xf32>
// CHECK-NEXT: %[[NEWMAX:.+]] = arith.maxnumf %[[OLDMAX]], %[[RM]] : f32
// CHECK-NEXT: %[[EMPTY:.+]] = arith.cmpf oeq, %[[NEWMAX]], %{{.+}} : f32
// CHECK-NEXT: %[[SHIFT:.+]] = arith.select %[[EMPTY]], %{{.+}}, %[[NEWMAX]] : f32
// CHECK: %[[X:.+]] = arith.subf %{{.+}}, %{{.+}} : vector<8xf32>
// CHECK-NEXT: %[[LOWER:.+]] = arith.constant dense<-1.260000e+02> : vector<8xf32>
// CHECK-NEXT: %[[TINY:.+]] = arith.cmpf ult, %[[X]], %[[LOWER]] : vector<8xf32>
// CHECK-NEXT: %[[CLAMPED:.+]] = arith.maxnumf %[[X]], %[[LOWER]] : vector<8xf32>
// CHECK-NEXT: %[[N:.+]] = math.roundeven %[[CLAMPED]] : vector<8xf32>
// CHECK-NEXT: %[[F:.+]] = arith.subf %[[CLAMPED]], %[[N]] : vector<8xf32>
// CHECK-COUNT-6: vector.fma %{{.+}}, %[[F]], %{{.+}} : vector<8xf32>
// CHECK: %[[NI:.+]] = arith.fptosi %[[N]] : vector<8xf32> to vector<8xi32>
// CHECK-NEXT: %[[BIAS127:.+]] = arith.constant dense<127> : vector<8xi32>
// CHECK-NEXT: %[[BIASED:.+]] = arith.addi %[[NI]], %[[BIAS127]] : vector<8xi32>
// CHECK-NEXT: %[[C23:.+]] = arith.constant dense<23> : vector<8xi32>
// CHECK-NEXT: %[[BITS:.+]] = arith.shli %[[BIASED]], %[[C23]] : vector<8xi32>
// CHECK-NEXT: %[[POW:.+]] = arith.bitcast %[[BITS]] : vector<8xi32> to vector<8xf32>
// CHECK-NEXT: %[[P:.+]] = arith.mulf %{{.+}}, %[[POW]] : vector<8xf32>
// CHECK-NEXT: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK-NEXT: %[[PZ:.+]] = arith.select %[[TINY]], %[[ZERO]], %[[P]] : vector<8xi1>, vector<8xf32>
// Pairs whose score is -inf or NaN (forbidden or dropped) are stored as
// probability -1, which the P*V update of a tile with such pairs skips.
// CHECK: %[[ALLOWED:.+]] = arith.cmpf ogt, %{{.+}}, %{{.+}} : vector<8xf32>
// CHECK-NEXT: arith.ori %[[ALLOWED]], %{{.+}} : vector<8xi1>
// CHECK: %[[PSTORED:.+]] = arith.select %[[ALLOWED]], %[[PZ]], %{{.+}} : vector<8xi1>, vector<8xf32>
// CHECK-NEXT: vector.store %[[PSTORED]], %[[PROBS]][%{{.+}}, %{{.+}}] : memref<4x16xf32>, vector<8xf32>
// CHECK: %[[RS:.+]] = vector.reduction <add>, %{{.+}} : vector<8xf32> into f32
// CHECK-NEXT: %[[DELTA:.+]] = arith.subf %[[OLDMAX]], %[[SHIFT]] : f32
// CHECK-NEXT: memref.store %[[NEWMAX]], %[[MAX]][%{{.+}}] : memref<?xf32>
// Three more rows of the tile.
// CHECK-COUNT-3: vector.reduction <maxnumf>
// The rescale factors of the old states of all four rows: one exp2 on a
// four-lane vector.
// CHECK: vector.from_elements %[[DELTA]], %{{.+}}, %{{.+}}, %{{.+}} : vector<4xf32>
// CHECK: math.roundeven %{{.+}} : vector<4xf32>
// CHECK: arith.bitcast %{{.+}} : vector<4xi32> to vector<4xf32>
// CHECK: %[[CORR:.+]] = vector.extract %{{.+}}[0] : f32 from vector<4xf32>
// CHECK: %[[OLDSUM:.+]] = memref.load %[[SUM]][%{{.+}}] : memref<?xf32>
// CHECK-NEXT: %[[SCALEDSUM:.+]] = arith.mulf %[[OLDSUM]], %[[CORR]] : f32
// CHECK-NEXT: %[[NEWSUM:.+]] = arith.addf %[[SCALEDSUM]], %[[RS]] : f32
// CHECK-NEXT: memref.store %[[NEWSUM]], %[[SUM]][%{{.+}}] : memref<?xf32>
// Whether every pair of the tile inside the block is allowed.
// CHECK: %[[CLEAN:.+]] = vector.reduction <and>, %{{.+}} : vector<8xi1> into i1
// Value rows accumulate into the state, chunk by chunk of 8 elements: the
// plain FMA loop where every pair is allowed, else the loop that keeps an
// FMA only where its probability is not -1.
// CHECK: %[[A:.+]] = vector.load %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x64xf32>, vector<8xf32>
// CHECK-NEXT: %[[CB:.+]] = vector.broadcast %[[CORR]] : f32 to vector<8xf32>
// CHECK-NEXT: %[[A0:.+]] = arith.mulf %[[A]], %[[CB]] : vector<8xf32>
// CHECK: %[[PV:.+]]:4 = scf.if %[[CLEAN]] -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK: %[[PVC:.+]]:4 = scf.for %[[J:.+]] = %{{.+}} to %[[KCOUNT]] step %{{.+}} iter_args(%{{.+}} = %[[A0]], {{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK-NEXT: %[[KEY:.+]] = arith.addi %[[KS]], %[[J]] : index
// CHECK: %[[VROW:.+]] = vector.load %[[V]][%[[KEY]], %{{.+}}] : memref<?x64xf32>, vector<8xf32>
// CHECK: %[[PJ:.+]] = memref.load %[[PROBS]][%{{.+}}, %[[J]]] : memref<4x16xf32>
// CHECK-NEXT: %[[PJB:.+]] = vector.broadcast %[[PJ]] : f32 to vector<8xf32>
// CHECK-NEXT: vector.fma %[[PJB]], %[[VROW]], %{{.+}} : vector<8xf32>
// CHECK-NOT: arith.select
// CHECK: scf.yield
// CHECK: scf.yield %[[PVC]]#0,
// CHECK-NEXT: } else {
// CHECK: scf.for %[[JG:.+]] = %{{.+}} to %[[KCOUNT]] step %{{.+}} iter_args(%[[ACC0:.+]] = %[[A0]], {{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK: %[[VROWG:.+]] = vector.load %[[V]][%{{.+}}, %{{.+}}] : memref<?x64xf32>, vector<8xf32>
// CHECK: %[[PG:.+]] = memref.load %[[PROBS]][%{{.+}}, %[[JG]]] : memref<4x16xf32>
// CHECK-NEXT: %[[PGB:.+]] = vector.broadcast %[[PG]] : f32 to vector<8xf32>
// CHECK-NEXT: %[[SUMG:.+]] = vector.fma %[[PGB]], %[[VROWG]], %[[ACC0]] : vector<8xf32>
// CHECK-NEXT: %[[OK:.+]] = arith.cmpf oge, %[[PG]], %{{.+}} : f32
// CHECK-NEXT: arith.select %[[OK]], %[[SUMG]], %[[ACC0]] : vector<8xf32>
// CHECK: vector.store %[[PV]]#0, %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x64xf32>, vector<8xf32>
// 64 / 8 = 8 chunks, two key loops each.
// CHECK-COUNT-14: scf.for %{{.+}} = %{{.+}} to %[[KCOUNT]] step
// The remaining query rows, one at a time (2 score vectors).
// CHECK: scf.for %{{.+}} = %[[MAINEND]] to %[[NQ]] step %{{.+}} {
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>) {
// CHECK-NOT: dilattn.
// CHECK: return

// Other options: 2 query rows and 32 keys per tile.
// TILE-LABEL: func.func @segment_d64(
// TILE-NEXT: %[[PROBS:.+]] = memref.alloca() : memref<2x32xf32>
// TILE-NEXT: %[[PACKED:.+]] = memref.alloca() : memref<64x32xf32>
// TILE: %[[TK:.+]] = arith.constant 32 : index
// TILE: scf.for %[[KS:.+]] = %{{.+}} to %{{.+}} step %[[TK]] {
// TILE: arith.constant 0 : index
// TILE-NEXT: %[[PJEND:.+]] = arith.constant 32 : index
// TILE-NEXT: arith.constant 1 : index
// TILE-NEXT: scf.for %{{.+}} = %{{.+}} to %[[PJEND]] step
// TILE: memref.store %{{.+}}, %[[PACKED]][%{{.+}}, %{{.+}}] : memref<64x32xf32>
// TILE: arith.constant dense<[24, 25, 26, 27, 28, 29, 30, 31]> : vector<8xi32>
// TILE: %[[TQ:.+]] = arith.constant 2 : index
// TILE: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %[[TQ]] {
// TILE: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// TILE: vector.store %{{.+}}, %[[PROBS]][%{{.+}}, %{{.+}}] : memref<2x32xf32>, vector<8xf32>

// 16 lanes (AVX-512) with 32 keys per tile.
// WIDE-LABEL: func.func @segment_d64(
// WIDE-NEXT: memref.alloca() : memref<4x32xf32>
// WIDE-NEXT: memref.alloca() : memref<64x32xf32>
// WIDE: arith.constant dense<[16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]> : vector<16xi32>
// WIDE: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
// WIDE: vector.load %{{.+}} : memref<64x32xf32>, vector<16xf32>
// WIDE: vector.fma %{{.+}}, %{{.+}}, %{{.+}} : vector<16xf32>
// WIDE: vector.reduction <maxnumf>, %{{.+}} : vector<16xf32> into f32
// WIDE: math.roundeven %{{.+}} : vector<16xf32>
// WIDE: vector.reduction <add>, %{{.+}} : vector<16xf32> into f32
// WIDE-NOT: vector<8xf32>
// WIDE: return
func.func @segment_d64(%q: memref<?x64xf32>, %k: memref<?x64xf32>, %v: memref<?x64xf32>, %m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x64xf32>) {
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %s, %a) scale = 0.125
      : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>, memref<?xf32>, memref<?xf32>, memref<?x64xf32>
  return
}

// -----

// D = 20: chunks of 8, 8 and 4 lanes (the narrower tail chunk is a
// vector<4xf32>) in the value accumulation; the packed block is 20 x 16.
// CHECK-LABEL: func.func @segment_d20(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x20xf32, strided<[?, 1], offset: ?>>, %[[K:[a-zA-Z0-9_]+]]: memref<?x20xf32, strided<[?, 1], offset: ?>>, %[[V:[a-zA-Z0-9_]+]]: memref<?x20xf32, strided<[?, 1], offset: ?>>,
// CHECK-SAME: %[[MAX:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[?], offset: ?>>, %[[SUM:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[?], offset: ?>>, %[[ACC:[a-zA-Z0-9_]+]]: memref<?x20xf32, strided<[?, 1], offset: ?>>)
// CHECK-NEXT: memref.alloca() : memref<4x16xf32>
// CHECK-NEXT: %[[PACKED:.+]] = memref.alloca() : memref<20x16xf32>
// CHECK: scf.for
// CHECK: %[[PDEND:.+]] = arith.constant 20 : index
// CHECK: scf.for %[[PD:.+]] = %{{.+}} to %[[PDEND]] step %{{.+}} {
// CHECK-NEXT: memref.load %[[K]][%{{.+}}, %[[PD]]] : memref<?x20xf32, strided<[?, 1], offset: ?>>
// CHECK-NEXT: memref.store %{{.+}}, %[[PACKED]][%[[PD]], %{{.+}}] : memref<20x16xf32>
// CHECK: %[[DIM:.+]] = arith.constant 20 : index
// CHECK: scf.for %{{.+}} = %{{.+}} to %[[DIM]] step
// CHECK: vector.load %[[PACKED]][%{{.+}}, %{{.+}}] : memref<20x16xf32>, vector<8xf32>
// CHECK: vector.load %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x20xf32, strided<[?, 1], offset: ?>>, vector<8xf32>
// CHECK: vector.load %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x20xf32, strided<[?, 1], offset: ?>>, vector<8xf32>
// CHECK: vector.load %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x20xf32, strided<[?, 1], offset: ?>>, vector<4xf32>
// CHECK: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>) {
// CHECK: %[[VT:.+]] = vector.load %[[V]][%{{.+}}, %{{.+}}] : memref<?x20xf32, strided<[?, 1], offset: ?>>, vector<4xf32>
// CHECK: vector.fma %{{.+}}, %[[VT]], %{{.+}} : vector<4xf32>
// CHECK: vector.store %{{.+}}, %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x20xf32, strided<[?, 1], offset: ?>>, vector<4xf32>
// CHECK-NOT: dilattn.
func.func @segment_d20(%q: memref<?x20xf32, strided<[?, 1], offset: ?>>, %k: memref<?x20xf32, strided<[?, 1], offset: ?>>, %v: memref<?x20xf32, strided<[?, 1], offset: ?>>,
                       %m: memref<?xf32, strided<[?], offset: ?>>, %s: memref<?xf32, strided<[?], offset: ?>>, %a: memref<?x20xf32, strided<[?, 1], offset: ?>>) {
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %s, %a) scale = 0.25
      : memref<?x20xf32, strided<[?, 1], offset: ?>>, memref<?x20xf32, strided<[?, 1], offset: ?>>, memref<?x20xf32, strided<[?, 1], offset: ?>>,
        memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x20xf32, strided<[?, 1], offset: ?>>
  return
}

// -----

// D = 132 at 8 lanes: 17 chunks, more than the 16 emitted one by one, so the
// value accumulation loops over its 16 full chunks (the same key loops in the
// code whatever D is: docs/reliability.md, finding 9) and the 4-lane remainder
// follows the loop.
// CHECK-LABEL: func.func @segment_d132(
// CHECK-SAME: %[[V:[a-zA-Z0-9_]+]]: memref<?x132xf32>, %{{[a-zA-Z0-9_]+}}: memref<?xf32>, %{{[a-zA-Z0-9_]+}}: memref<?xf32>, %[[ACC:[a-zA-Z0-9_]+]]: memref<?x132xf32>)
// CHECK: %[[END:.+]] = arith.constant 128 : index
// CHECK-NEXT: %[[STEP:.+]] = arith.constant 8 : index
// CHECK-NEXT: scf.for %[[COL:.+]] = %{{.+}} to %[[END]] step %[[STEP]] {
// CHECK: vector.load %[[ACC]][%{{.+}}, %[[COL]]] : memref<?x132xf32>, vector<8xf32>
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK: vector.load %[[V]][%{{.+}}, %[[COL]]] : memref<?x132xf32>, vector<8xf32>
// CHECK: vector.store %{{.+}}, %[[ACC]][%{{.+}}, %[[COL]]] : memref<?x132xf32>, vector<8xf32>
// CHECK: %[[REST:.+]] = arith.constant 128 : index
// CHECK: vector.load %[[ACC]][%{{.+}}, %[[REST]]] : memref<?x132xf32>, vector<4xf32>
// CHECK: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>) {
// CHECK: vector.load %[[V]][%{{.+}}, %[[REST]]] : memref<?x132xf32>, vector<4xf32>
// CHECK: vector.load %[[V]][%{{.+}}, %[[REST]]] : memref<?x132xf32>, vector<4xf32>
// CHECK-NOT: vector<8xf32>
// CHECK: vector.store %{{.+}}, %[[ACC]][%{{.+}}, %[[REST]]] : memref<?x132xf32>, vector<4xf32>
// The one-row tail tile: the same loop, then the same remainder.
// CHECK: %[[END1:.+]] = arith.constant 128 : index
// CHECK-NEXT: %[[STEP1:.+]] = arith.constant 8 : index
// CHECK-NEXT: scf.for %[[COL1:.+]] = %{{.+}} to %[[END1]] step %[[STEP1]] {
// CHECK-COUNT-2: vector.load %[[V]][%{{.+}}, %[[COL1]]] : memref<?x132xf32>, vector<8xf32>
// CHECK-COUNT-2: vector.load %[[V]][%{{.+}}, %{{.+}}] : memref<?x132xf32>, vector<4xf32>
// CHECK-NOT: vector.load %[[V]]
// CHECK-NOT: dilattn.
func.func @segment_d132(%q: memref<?x132xf32>, %k: memref<?x132xf32>, %v: memref<?x132xf32>, %m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x132xf32>) {
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %s, %a) scale = 0.125
      : memref<?x132xf32>, memref<?x132xf32>, memref<?x132xf32>, memref<?xf32>, memref<?xf32>, memref<?x132xf32>
  return
}

// -----

// write_states with D = 132 at 8 lanes: the full chunks in one loop over
// columns, then the 4-lane remainder.
// CHECK-LABEL: func.func @write_states_d132(
// CHECK-SAME: %[[ACC:[a-zA-Z0-9_]+]]: memref<?x132xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<?x132xf32>)
// CHECK: %[[END:.+]] = arith.constant 128 : index
// CHECK-NEXT: %[[STEP:.+]] = arith.constant 8 : index
// CHECK-NEXT: scf.for %[[COL:.+]] = %{{.+}} to %[[END]] step %[[STEP]] {
// CHECK: vector.load %[[ACC]][%{{.+}}, %[[COL]]] : memref<?x132xf32>, vector<8xf32>
// CHECK: vector.store %{{.+}}, %[[O]][%{{.+}}, %[[COL]]] : memref<?x132xf32>, vector<8xf32>
// CHECK-NEXT: }
// CHECK: vector.load %[[ACC]][%{{.+}}, %{{.+}}] : memref<?x132xf32>, vector<4xf32>
// CHECK: vector.store %{{.+}}, %[[O]][%{{.+}}, %{{.+}}] : memref<?x132xf32>, vector<4xf32>
// CHECK-NOT: vector.store
func.func @write_states_d132(%m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x132xf32>, %o: memref<?x132xf32>) {
  dilattn.write_states states(%m : memref<?xf32>) sums(%s : memref<?xf32>) accs(%a : memref<?x132xf32>)
      outs(%o : memref<?x132xf32>) output_scale = 1.0
  return
}

// -----

// Key bias, attention bias and causal: biases are gathered into vectors
// (vector.from_elements) and added in log2 units; the causal limit masks
// lanes past the query's position and skips query rows before the block.
// CHECK-LABEL: func.func @segment_bias_causal(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[KB:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[2], offset: ?>>, %[[AB:[a-zA-Z0-9_]+]]: memref<?x?xf32, strided<[?, 2], offset: ?>>,
// CHECK-SAME: %[[MAX:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[SUM:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[ACC:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[QSTART:[a-zA-Z0-9_]+]]: index)
// CHECK: scf.for %[[KS:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// Key bias: 8 loads, one vector, times log2(e).
// CHECK: %[[LANES0:.+]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : vector<8xi32>
// CHECK: %[[VALID0:.+]] = arith.cmpi slt, %[[LANES0]], %{{.+}} : vector<8xi32>
// CHECK-COUNT-8: memref.load %[[KB]][%{{.+}}] : memref<?xf32, strided<[2], offset: ?>>
// CHECK-NEXT: %[[KBV:.+]] = vector.from_elements %{{.+}} : vector<8xf32>
// CHECK-NEXT: %[[LOG2E:.+]] = arith.constant dense<1.44269502> : vector<8xf32>
// CHECK-NEXT: %[[KBIAS0:.+]] = arith.mulf %[[KBV]], %[[LOG2E]] : vector<8xf32>
// CHECK: vector.from_elements
// Causal: rows whose position is before the block's first key start later.
// CHECK: %[[PAST:.+]] = arith.cmpi ugt, %[[KS]], %[[QSTART]] : index
// CHECK: %[[SKIP:.+]] = arith.subi %[[KS]], %[[QSTART]] : index
// CHECK-NEXT: %[[SKIPC:.+]] = arith.minui %[[SKIP]], %{{.+}} : index
// CHECK-NEXT: %[[FIRST:.+]] = arith.select %[[PAST]], %[[SKIPC]], %{{.+}} : index
// CHECK: scf.for %[[ROW:.+]] = %[[FIRST]] to %{{.+}} step %{{.+}} {
// CHECK: scf.yield
// Per row: the causal limit query_start + row - key_start as lanes.
// CHECK: %[[POS:.+]] = arith.addi %[[QSTART]], %{{.+}} : index
// CHECK-NEXT: %[[REL:.+]] = arith.subi %[[POS]], %[[KS]] : index
// CHECK-NEXT: %[[REL32:.+]] = arith.index_cast %[[REL]] : index to i32
// CHECK-NEXT: %[[LIMIT:.+]] = vector.broadcast %[[REL32]] : i32 to vector<8xi32>
// CHECK-NEXT: %[[SC:.+]] = vector.fma %{{.+}}, %{{.+}}, %[[KBIAS0]] : vector<8xf32>
// Attention bias of the row: 8 loads, one vector, added times log2(e).
// CHECK-COUNT-8: memref.load %[[AB]][%{{.+}}, %{{.+}}] : memref<?x?xf32, strided<[?, 2], offset: ?>>
// CHECK: %[[ABV:.+]] = vector.from_elements %{{.+}} : vector<8xf32>
// CHECK-NEXT: %[[SCB:.+]] = vector.fma %[[ABV]], %{{.+}}, %[[SC]] : vector<8xf32>
// CHECK-NEXT: %[[LANES:.+]] = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : vector<8xi32>
// CHECK-NEXT: %[[VISIBLE:.+]] = arith.cmpi sle, %[[LANES]], %[[LIMIT]] : vector<8xi32>
// CHECK-NEXT: %[[OK:.+]] = arith.andi %[[VALID0]], %[[VISIBLE]] : vector<8xi1>
// CHECK-NEXT: arith.select %[[OK]], %[[SCB]], %{{.+}} : vector<8xi1>, vector<8xf32>
// CHECK: vector.reduction <maxnumf>
// CHECK-NOT: dilattn.
func.func @segment_bias_causal(%q: memref<?x16xf32>, %kb: memref<?xf32, strided<[2], offset: ?>>, %ab: memref<?x?xf32, strided<[?, 2], offset: ?>>,
                               %m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x16xf32>, %t: index) {
  dilattn.segment_attention query(%q) key(%q) value(%q) key_bias(%kb : memref<?xf32, strided<[2], offset: ?>>)
      attn_bias(%ab : memref<?x?xf32, strided<[?, 2], offset: ?>>) state(%m, %s, %a) causal(%t) scale = 0.25
      : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?xf32>, memref<?xf32>, memref<?x16xf32>
  return
}

// -----

// write_states with one state: out = output_scale * acc / sum, 0 where the
// sum is 0 (no division by zero: the factor is selected).
// CHECK-LABEL: func.func @write_states_one(
// CHECK-SAME: %[[MAX:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[SUM:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[ACC:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<?x16xf32, strided<[64, 1], offset: ?>>)
// CHECK-NOT: memref.alloca
// CHECK: %[[ROWS:.+]] = memref.dim %[[O]], %{{.+}}
// CHECK: scf.for %[[ROW:.+]] = %{{.+}} to %[[ROWS]] step %{{.+}} {
// CHECK-NEXT: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT: %[[M:.+]] = memref.load %[[MAX]][%[[ROW]]] : memref<?xf32>
// CHECK-NEXT: %[[S:.+]] = memref.load %[[SUM]][%[[ROW]]] : memref<?xf32>
// CHECK-NEXT: %[[SEEN:.+]] = arith.cmpf ogt, %[[S]], %[[ZERO]] : f32
// CHECK-NEXT: %[[MS:.+]] = arith.select %[[SEEN]], %[[M]], %[[NEGINF]] : f32
// CHECK-NEXT: %[[MIX:.+]] = arith.maxnumf %[[NEGINF]], %[[MS]] : f32
// CHECK-NEXT: %[[NONE:.+]] = arith.cmpf oeq, %[[MIX]], %[[NEGINF]] : f32
// One state: weight 1, no exp2.
// CHECK-NOT: math.roundeven
// CHECK: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[WS:.+]] = arith.mulf %[[ONE]], %[[S]] : f32
// CHECK-NEXT: %[[DEN:.+]] = arith.addf %[[ZERO]], %[[WS]] : f32
// CHECK: %[[SAFE:.+]] = arith.select %[[NONE]], %{{.+}}, %[[DEN]] : f32
// CHECK-NEXT: %[[OSCALE:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-NEXT: %[[RATIO:.+]] = arith.divf %[[OSCALE]], %[[SAFE]] : f32
// CHECK-NEXT: %[[FACTOR:.+]] = arith.select %[[NONE]], %[[ZERO]], %[[RATIO]] : f32
// Two chunks of 8.
// CHECK: %[[A0:.+]] = vector.load %[[ACC]][%[[ROW]], %{{.+}}] : memref<?x16xf32>, vector<8xf32>
// CHECK: %[[MIXED0:.+]] = vector.fma %[[A0]], %{{.+}}, %{{.+}} : vector<8xf32>
// CHECK: %[[FB0:.+]] = vector.broadcast %[[FACTOR]] : f32 to vector<8xf32>
// CHECK-NEXT: %[[OUT0:.+]] = arith.mulf %[[MIXED0]], %[[FB0]] : vector<8xf32>
// CHECK-NEXT: vector.store %[[OUT0]], %[[O]][%[[ROW]], %{{.+}}] : memref<?x16xf32, strided<[64, 1], offset: ?>>, vector<8xf32>
// CHECK: vector.load %[[ACC]]
// CHECK: vector.store %{{.+}}, %[[O]]
// CHECK-NOT: vector.store
// CHECK-NOT: dilattn.
func.func @write_states_one(%m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x16xf32>, %o: memref<?x16xf32, strided<[64, 1], offset: ?>>) {
  dilattn.write_states states(%m : memref<?xf32>) sums(%s : memref<?xf32>) accs(%a : memref<?x16xf32>)
      outs(%o : memref<?x16xf32, strided<[64, 1], offset: ?>>) output_scale = 0.5
  return
}

// -----

// write_states with 3 states and D = 20: each state's weight is
// exp2(max_s - M) (the scalar polynomial), the denominator is the weighted sum
// of the sums, and the 4-lane tail chunk mixes the three accs.
// CHECK-LABEL: func.func @write_states_three(
// CHECK-SAME: %[[M0:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[M1:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[M2:[a-zA-Z0-9_]+]]: memref<8xf32>,
// CHECK-SAME: %[[S0:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[S1:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[S2:[a-zA-Z0-9_]+]]: memref<8xf32>,
// CHECK-SAME: %[[A0:[a-zA-Z0-9_]+]]: memref<8x20xf32>, %[[A1:[a-zA-Z0-9_]+]]: memref<8x20xf32>, %[[A2:[a-zA-Z0-9_]+]]: memref<8x20xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<8x20xf32>)
// CHECK: scf.for %[[ROW:.+]] = {{.+}} {
// CHECK: memref.load %[[M0]][%[[ROW]]]
// CHECK: memref.load %[[S0]][%[[ROW]]]
// CHECK: arith.cmpf ogt
// CHECK: memref.load %[[M1]][%[[ROW]]]
// CHECK: memref.load %[[S1]][%[[ROW]]]
// CHECK: arith.cmpf ogt
// CHECK: memref.load %[[M2]][%[[ROW]]]
// CHECK: memref.load %[[S2]][%[[ROW]]]
// CHECK: arith.cmpf ogt
// CHECK: %[[NONE:.+]] = arith.cmpf oeq
// CHECK-COUNT-3: math.roundeven %{{.+}} : vector<1xf32>
// CHECK: %[[DEN:.+]] = arith.addf
// CHECK-NEXT: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[SAFE:.+]] = arith.select %[[NONE]], %[[ONE]], %[[DEN]] : f32
// CHECK: arith.divf %{{.+}}, %[[SAFE]] : f32
// CHECK: vector.load %[[A0]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<8xf32>
// CHECK: vector.load %[[A1]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<8xf32>
// CHECK: vector.load %[[A2]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<8xf32>
// CHECK: vector.store %{{.+}}, %[[O]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<8xf32>
// CHECK: vector.store %{{.+}}, %[[O]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<8xf32>
// CHECK: vector.load %[[A0]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK: vector.load %[[A1]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK: vector.load %[[A2]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<4xf32>
// CHECK: vector.fma
// CHECK: vector.store %{{.+}}, %[[O]][%[[ROW]], %{{.+}}] : memref<8x20xf32>, vector<4xf32>
// CHECK-NOT: dilattn.
func.func @write_states_three(%m0: memref<8xf32>, %m1: memref<8xf32>, %m2: memref<8xf32>,
                              %s0: memref<8xf32>, %s1: memref<8xf32>, %s2: memref<8xf32>,
                              %a0: memref<8x20xf32>, %a1: memref<8x20xf32>, %a2: memref<8x20xf32>, %o: memref<8x20xf32>) {
  dilattn.write_states states(%m0, %m1, %m2 : memref<8xf32>, memref<8xf32>, memref<8xf32>)
      sums(%s0, %s1, %s2 : memref<8xf32>, memref<8xf32>, memref<8xf32>)
      accs(%a0, %a1, %a2 : memref<8x20xf32>, memref<8x20xf32>, memref<8x20xf32>)
      outs(%o : memref<8x20xf32>) output_scale = 1.0
  return
}

//--- invalid.mlir

// (Segment attentions are outlined first by default, so the type named may be
// the fully dynamic strided form of the operand's.)

// Only f32 buffers.
func.func @segment_f16(%q: memref<?x64xf16>, %m: memref<?xf32>, %a: memref<?x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op vector lowering supports f32 buffers only, got 'memref<?x64xf16}}
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %m, %a) scale = 0.125
      : memref<?x64xf16>, memref<?x64xf16>, memref<?x64xf16>, memref<?xf32>, memref<?xf32>, memref<?x64xf32>
  return
}

// -----

// Only f32 buffers (an f16 key bias).
func.func @segment_f16_bias(%q: memref<?x16xf32>, %kb: memref<?xf16>, %m: memref<?xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op vector lowering supports f32 buffers only, got 'memref<?xf16}}
  dilattn.segment_attention query(%q) key(%q) value(%q) key_bias(%kb : memref<?xf16>) state(%m, %m, %q) scale = 0.25
      : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?xf32>, memref<?xf32>, memref<?x16xf32>
  return
}

// -----

// A static head dim.
func.func @segment_dynamic_head_dim(%q: memref<?x?xf32>, %m: memref<?xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op vector lowering needs a static head dim}}
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %m, %q) scale = 0.25
      : memref<?x?xf32>, memref<?x?xf32>, memref<?x?xf32>, memref<?xf32>, memref<?xf32>, memref<?x?xf32>
  return
}

// -----

// write_states needs an f32 output.
func.func @write_states_f16(%m: memref<?xf32>, %a: memref<?x16xf32>, %o: memref<?x16xf16>) {
  // expected-error @+1 {{'dilattn.write_states' op vector lowering needs a static head dim and an f32 output, got 'memref<?x16xf16>'}}
  dilattn.write_states states(%m : memref<?xf32>) sums(%m : memref<?xf32>) accs(%a : memref<?x16xf32>)
      outs(%o : memref<?x16xf16>) output_scale = 1.0
  return
}

// -----

// write_states needs a static head dim.
func.func @write_states_dynamic(%m: memref<?xf32>, %a: memref<?x?xf32>) {
  // expected-error @+1 {{'dilattn.write_states' op vector lowering needs a static head dim and an f32 output, got 'memref<?x?xf32>'}}
  dilattn.write_states states(%m : memref<?xf32>) sums(%m : memref<?xf32>) accs(%a : memref<?x?xf32>)
      outs(%a : memref<?x?xf32>) output_scale = 1.0
  return
}

//--- bad-options.mlir

// The options are checked once, before any op is looked at: one error on the
// module (hence the explicit module here) for vector-width = 0, tile-keys = 0,
// tile-keys = 12 (not a multiple of vector-width = 8) and tile-queries = 0,
// and no crash (no division by a zero width).
// The message ends with the three values, which differ per RUN line: the
// regex checks that they are printed as numbers.
// expected-error-re @+1 {{dilattn-lower-to-vector: vector-width and tile-queries must be positive and tile-keys a positive multiple of vector-width, got {{[0-9]+}}, {{[0-9]+}}, {{[0-9]+}}}}
module {
  func.func @bad_options(%q: memref<?x64xf32>, %m: memref<?xf32>) {
    dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %m, %q) scale = 0.125
        : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>, memref<?xf32>, memref<?xf32>, memref<?x64xf32>
    dilattn.write_states states(%m : memref<?xf32>) sums(%m : memref<?xf32>) accs(%q : memref<?x64xf32>)
        outs(%q : memref<?x64xf32>) output_scale = 1.0
    return
  }
}

//--- outline.mlir

// Default (outline=true): segment attentions with the same attributes and
// operand kinds share one private function, named
// <kernel>__segment_attention_N, called with views cast to fully dynamic
// strides (the unit innermost stride of rank-2 rows kept; rank-1 states are
// always cast, a unit stride included); the scratch buffers live at the entry
// of that function. Different scale or causal flag: another function.
// write_states is lowered in place.
// CHECK-LABEL: func.func @outline(
// CHECK-SAME: %[[Q1:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[128, 1], offset: ?>>, %[[Q2:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[256, 1], offset: ?>>,
// CHECK-SAME: %[[M1:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[2], offset: ?>>, %[[M2:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[4], offset: ?>>, %[[A:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[?, 1], offset: ?>>,
// CHECK-SAME: %[[T:[a-zA-Z0-9_]+]]: index, %[[O:[a-zA-Z0-9_]+]]: memref<?x64xf32>, %[[M3:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[1], offset: ?>>)
// CHECK-NOT: memref.alloca
// CHECK-NEXT: %[[CQ1:.+]] = memref.cast %[[Q1]] : memref<?x64xf32, strided<[128, 1], offset: ?>> to memref<?x64xf32, strided<[?, 1], offset: ?>>
// CHECK-NEXT: %[[CK1:.+]] = memref.cast %[[Q1]]
// CHECK-NEXT: %[[CV1:.+]] = memref.cast %[[Q1]]
// CHECK-NEXT: %[[CM1:.+]] = memref.cast %[[M1]] : memref<?xf32, strided<[2], offset: ?>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK-NEXT: %[[CS1:.+]] = memref.cast %[[M1]]
// The acc view is already fully dynamic: passed as is.
// CHECK-NEXT: call @outline__segment_attention_0(%[[CQ1]], %[[CK1]], %[[CV1]], %[[CM1]], %[[CS1]], %[[A]]) : (memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>) -> ()
// CHECK-NEXT: %[[CQ2:.+]] = memref.cast %[[Q2]] : memref<?x64xf32, strided<[256, 1], offset: ?>> to memref<?x64xf32, strided<[?, 1], offset: ?>>
// CHECK-NEXT: %[[CK2:.+]] = memref.cast %[[Q2]]
// CHECK-NEXT: %[[CV2:.+]] = memref.cast %[[Q2]]
// CHECK-NEXT: %[[CM2:.+]] = memref.cast %[[M2]] : memref<?xf32, strided<[4], offset: ?>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK-NEXT: %[[CS2:.+]] = memref.cast %[[M2]]
// CHECK-NEXT: call @outline__segment_attention_0(%[[CQ2]], %[[CK2]], %[[CV2]], %[[CM2]], %[[CS2]], %[[A]])
// CHECK: call @outline__segment_attention_1(%{{.+}}, %[[T]])
// CHECK: call @outline__segment_attention_2(
// A unit-stride rank-1 state (as at dilation rate 1) is cast to the dynamic
// stride as well, so it shares the first function.
// CHECK: %[[CM3:.+]] = memref.cast %[[M3]] : memref<?xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK-NEXT: %[[CS3:.+]] = memref.cast %[[M3]] : memref<?xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK-NEXT: call @outline__segment_attention_0(%{{.+}}, %{{.+}}, %{{.+}}, %[[CM3]], %[[CS3]], %[[A]])
// CHECK-NOT: dilattn.
// CHECK-NOT: call @outline__segment_attention_3
// The write stays here.
// CHECK: scf.for
// CHECK: vector.store %{{.+}}, %[[O]]
// CHECK: return
// A second kernel with a call of the same signature gets a function of its
// own, named after it (kernels linked into one process must not share
// symbols); N counts the module's outlined functions.
// CHECK-LABEL: func.func @other(
// CHECK: call @[[OTHER:other__segment_attention_[0-9]+]](
// CHECK-NOT: call @outline__
// CHECK: return
// The shared function of the non-causal 0.125 calls.
// CHECK: func.func private @outline__segment_attention_0(%[[FQ:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[?, 1], offset: ?>>, %{{.+}}: memref<?x64xf32, strided<[?, 1], offset: ?>>, %{{.+}}: memref<?x64xf32, strided<[?, 1], offset: ?>>, %{{.+}}: memref<?xf32, strided<[?], offset: ?>>, %{{.+}}: memref<?xf32, strided<[?], offset: ?>>, %{{.+}}: memref<?x64xf32, strided<[?, 1], offset: ?>>)
// CHECK-NEXT: memref.alloca() : memref<4x16xf32>
// CHECK-NEXT: memref.alloca() : memref<64x16xf32>
// CHECK: arith.constant dense<0.180336878> : vector<8xf32>
// CHECK-NOT: arith.cmpi sle
// CHECK: return
// The causal one.
// CHECK: func.func private @outline__segment_attention_1(
// CHECK-SAME: %{{.+}}: index)
// CHECK-NEXT: memref.alloca() : memref<4x16xf32>
// CHECK-NEXT: memref.alloca() : memref<64x16xf32>
// CHECK: arith.cmpi sle
// CHECK: return
// The one with another scale (0.5 * log2(e)).
// CHECK: func.func private @outline__segment_attention_2(
// CHECK: arith.constant dense<0.72134751> : vector<8xf32>
// CHECK: return
// The second kernel's.
// CHECK: func.func private @[[OTHER]](
// CHECK: arith.constant dense<0.180336878> : vector<8xf32>
// CHECK: return
// CHECK-NOT: func.func
func.func @outline(%q1: memref<?x64xf32, strided<[128, 1], offset: ?>>, %q2: memref<?x64xf32, strided<[256, 1], offset: ?>>,
                   %m1: memref<?xf32, strided<[2], offset: ?>>, %m2: memref<?xf32, strided<[4], offset: ?>>, %a: memref<?x64xf32, strided<[?, 1], offset: ?>>,
                   %t: index, %o: memref<?x64xf32>, %m3: memref<?xf32, strided<[1], offset: ?>>) {
  dilattn.segment_attention query(%q1) key(%q1) value(%q1) state(%m1, %m1, %a) scale = 0.125
      : memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>,
        memref<?xf32, strided<[2], offset: ?>>, memref<?xf32, strided<[2], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.segment_attention query(%q2) key(%q2) value(%q2) state(%m2, %m2, %a) scale = 0.125
      : memref<?x64xf32, strided<[256, 1], offset: ?>>, memref<?x64xf32, strided<[256, 1], offset: ?>>, memref<?x64xf32, strided<[256, 1], offset: ?>>,
        memref<?xf32, strided<[4], offset: ?>>, memref<?xf32, strided<[4], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.segment_attention query(%q2) key(%q2) value(%q2) state(%m2, %m2, %a) causal(%t) scale = 0.125
      : memref<?x64xf32, strided<[256, 1], offset: ?>>, memref<?x64xf32, strided<[256, 1], offset: ?>>, memref<?x64xf32, strided<[256, 1], offset: ?>>,
        memref<?xf32, strided<[4], offset: ?>>, memref<?xf32, strided<[4], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.segment_attention query(%q1) key(%q1) value(%q1) state(%m1, %m1, %a) scale = 0.5
      : memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>,
        memref<?xf32, strided<[2], offset: ?>>, memref<?xf32, strided<[2], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.segment_attention query(%q1) key(%q1) value(%q1) state(%m3, %m3, %a) scale = 0.125
      : memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>,
        memref<?xf32, strided<[1], offset: ?>>, memref<?xf32, strided<[1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.write_states states(%m1 : memref<?xf32, strided<[2], offset: ?>>) sums(%m1 : memref<?xf32, strided<[2], offset: ?>>)
      accs(%a : memref<?x64xf32, strided<[?, 1], offset: ?>>) outs(%o : memref<?x64xf32>) output_scale = 1.0
  return
}

func.func @other(%q1: memref<?x64xf32, strided<[128, 1], offset: ?>>, %m1: memref<?xf32, strided<[2], offset: ?>>, %a: memref<?x64xf32, strided<[?, 1], offset: ?>>) {
  dilattn.segment_attention query(%q1) key(%q1) value(%q1) state(%m1, %m1, %a) scale = 0.125
      : memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>, memref<?x64xf32, strided<[128, 1], offset: ?>>,
        memref<?xf32, strided<[2], offset: ?>>, memref<?xf32, strided<[2], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  return
}

//--- grouped.mlir

// A grouped call with rates [1, 2] after segment tiling: group 0's views have
// unit strides ([32, 1] rows, [1] states), group 1's stride 2 ([64, 1] rows,
// [2] states, [32, 1] acc). Cast to fully dynamic strides, their kinds are
// equal, so both calls share exactly ONE outlined function.
// CHECK-LABEL: func.func @grouped(
// CHECK-NOT: func.func
// CHECK: %[[M0:.+]] = memref.subview %{{.+}}[%{{.+}}] [%{{.+}}] [1] : memref<16xf32> to memref<?xf32, strided<[1], offset: ?>>
// CHECK: memref.cast %[[M0]] : memref<?xf32, strided<[1], offset: ?>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK: call @grouped__segment_attention_0(
// CHECK-NOT: func.func
// CHECK: %[[M1:.+]] = memref.subview %{{.+}}[%{{.+}}] [%{{.+}}] [2] : memref<16xf32> to memref<?xf32, strided<[2], offset: ?>>
// CHECK: memref.cast %[[M1]] : memref<?xf32, strided<[2], offset: ?>> to memref<?xf32, strided<[?], offset: ?>>
// CHECK: call @grouped__segment_attention_0(
// CHECK-NOT: call @
// CHECK-NOT: dilattn.
// CHECK: func.func private @grouped__segment_attention_0(%{{.+}}: memref<?x16xf32, strided<[?, 1], offset: ?>>, %{{.+}}: memref<?x16xf32, strided<[?, 1], offset: ?>>, %{{.+}}: memref<?x16xf32, strided<[?, 1], offset: ?>>, %{{.+}}: memref<?xf32, strided<[?], offset: ?>>, %{{.+}}: memref<?xf32, strided<[?], offset: ?>>, %{{.+}}: memref<?x16xf32, strided<[?, 1], offset: ?>>)
// CHECK-NOT: func.func
// CHECK-NOT: __segment_attention_1
func.func @grouped(%q: memref<1x64x2x16xf32>, %o: memref<1x64x2x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>
  return
}

//--- grad.mlir

// The backward of one segment, D = 16, tile-queries 2, tile-keys 16 (two
// vectors of 8), causal, scale 0.25, output scale 0.5.
// CHECK-LABEL: func.func @segment_grad_d16(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[K:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[V:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[DO:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[L:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[DQ:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[DK:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[DV:[a-zA-Z0-9_]+]]: memref<?x16xf32>, %[[START:[a-zA-Z0-9_]+]]: index)
// Scratch on the stack: the tile's scale * dS and c * P, V and K packed
// transposed (D x tile-keys).
// CHECK-DAG: %[[C25:.+]] = arith.constant dense<2.500000e-01> : vector<8xf32>
// CHECK-DAG: %[[HALF:.+]] = arith.constant dense<5.000000e-01> : vector<8xf32>
// CHECK: %[[DS:.+]] = memref.alloca() : memref<2x16xf32>
// CHECK-NEXT: %[[P:.+]] = memref.alloca() : memref<2x16xf32>
// CHECK-NEXT: %[[VT:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NEXT: %[[KT:.+]] = memref.alloca() : memref<16x16xf32>
// Key blocks; K and V packed once per block.
// CHECK: scf.for %[[KS:.+]] = %{{.+}} to %{{.+}} step %c16 {
// CHECK: memref.store %{{.+}}, %[[KT]][
// CHECK: memref.store %{{.+}}, %[[VT]][
// Causal: query tiles before the block's first key are skipped.
// CHECK: %[[PAST:.+]] = arith.cmpi ugt, %[[KS]], %[[START]] : index
// CHECK: %[[FIRST:.+]] = arith.select %[[PAST]], %{{.+}}, %c0 : index
// CHECK: scf.for %[[ROW:.+]] = %[[FIRST]] to %{{.+}} step %c2 {
// S = Q K^T and dP = dO V^T in registers (2 rows x 2 vectors each).
// CHECK: %[[S:.+]]:4 = scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK: vector.load %[[KT]]
// CHECK: vector.fma
// CHECK: %[[DP:.+]]:4 = scf.for {{.+}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>) {
// CHECK: vector.load %[[VT]]
// CHECK: vector.fma
// Delta = <dO, O> of the first row, and its statistic.
// CHECK: %[[DOR:.+]] = vector.load %[[DO]][%[[ROW]], %c0]
// CHECK: %[[OR:.+]] = vector.load %[[O]][%[[ROW]], %c0]
// CHECK: arith.mulf %[[DOR]], %[[OR]]
// CHECK: vector.reduction <add>
// CHECK: %[[LSE:.+]] = memref.load %[[L]][%[[ROW]]] : memref<?xf32>
// P = 2^(S - lse), then dS = P (c dP - Delta); c P and scale dS go to the
// scratch tiles.
// CHECK: math.roundeven
// CHECK: %[[CDP:.+]] = arith.mulf %[[DP]]#0, %[[HALF]] : vector<8xf32>
// CHECK: %[[DIFF:.+]] = arith.subf %[[CDP]], %{{.+}} : vector<8xf32>
// CHECK: %[[DSV:.+]] = arith.mulf %[[PV:.+]], %[[DIFF]] : vector<8xf32>
// CHECK: %[[CP:.+]] = arith.mulf %[[PV]], %[[HALF]] : vector<8xf32>
// CHECK: vector.store %[[CP]], %[[P]][%c0, %c0]
// CHECK: %[[SDS:.+]] = arith.mulf %[[DSV]], %[[C25]] : vector<8xf32>
// CHECK: vector.store %[[SDS]], %[[DS]][%c0, %c0]
// dQ rows += scale dS K, over the block's keys.
// CHECK: vector.load %[[DQ]][%[[ROW]], %c0]
// CHECK: scf.for
// CHECK: vector.load %[[K]]
// CHECK: memref.load %[[DS]]
// CHECK: vector.fma
// CHECK: vector.store %{{.+}}, %[[DQ]][%[[ROW]], %c0]
// dK rows += scale dS^T Q and dV rows += c P^T dO, the tile's rows in
// registers.
// CHECK: vector.load %[[Q]][%[[ROW]], %c0]
// CHECK: scf.for
// CHECK: vector.load %[[DK]]
// CHECK: memref.load %[[DS]]
// CHECK: vector.store %{{.+}}, %[[DK]]
// CHECK: vector.load %[[DO]][%[[ROW]], %c0]
// CHECK: scf.for
// CHECK: vector.load %[[DV]]
// CHECK: memref.load %[[P]]
// CHECK: vector.store %{{.+}}, %[[DV]]
// CHECK-NOT: dilattn.segment_attention_grad
func.func @segment_grad_d16(%q: memref<?x16xf32>, %k: memref<?x16xf32>, %v: memref<?x16xf32>, %o: memref<?x16xf32>, %do: memref<?x16xf32>, %lse: memref<?xf32>, %dq: memref<?x16xf32>, %dk: memref<?x16xf32>, %dv: memref<?x16xf32>, %s: index) {
  dilattn.segment_attention_grad query(%q) key(%k) value(%v) output(%o)
      grad_output(%do) lse(%lse) grads(%dq, %dk, %dv) causal(%s)
      scale = 0.25 output_scale = 0.5
      : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>
  return
}

// -----

// write_states with lse: ln 2 * (M + log2(denominator)), -inf where no
// state saw a key.
// CHECK-LABEL: func.func @write_states_lse(
// CHECK-SAME: %{{.+}}: memref<?xf32>, %{{.+}}: memref<?xf32>, %{{.+}}: memref<?x8xf32>, %{{.+}}: memref<?x8xf32>, %[[L:[a-zA-Z0-9_]+]]: memref<?xf32>)
// CHECK: %[[LOG:.+]] = math.log2 %{{.+}} : f32
// CHECK: %[[SUM:.+]] = arith.addf %{{.+}}, %[[LOG]] : f32
// CHECK: %[[NAT:.+]] = arith.mulf %[[SUM]], %{{.+}} : f32
// CHECK: %[[SEL:.+]] = arith.select %{{.+}}, %{{.+}}, %[[NAT]] : f32
// CHECK: memref.store %[[SEL]], %[[L]][
func.func @write_states_lse(%m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x8xf32>, %o: memref<?x8xf32>, %l: memref<?xf32>) {
  dilattn.write_states states(%m : memref<?xf32>) sums(%s : memref<?xf32>)
      accs(%a : memref<?x8xf32>) outs(%o : memref<?x8xf32>) lse(%l : memref<?xf32>)
      output_scale = 1.0
  return
}

//--- grad-outline.mlir

// The tiler's segment_attention_grad ops (one per pattern) share one private
// function named after the kernel, called with fully dynamic views.
// CHECK-LABEL: func.func @grad_kernel(
// CHECK: call @grad_kernel__segment_attention_grad_0(
// CHECK: call @grad_kernel__segment_attention_grad_0(
// CHECK: func.func private @grad_kernel__segment_attention_grad_0(
// CHECK-SAME: memref<?x32xf32, strided<[?, 1], offset: ?>>
// CHECK-NOT: func.func private
func.func @grad_kernel(%q: memref<1x64x4x32xf32>, %lse: memref<1x64x4xf32>) {
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q) outs(%q, %q, %q)
      segment_lengths = [16, 64] dilation_rates = [1, 2] mode = longnet
      : memref<1x64x4x32xf32>, memref<1x64x4x32xf32>, memref<1x64x4x32xf32>, memref<1x64x4x32xf32>, memref<1x64x4xf32>, memref<1x64x4x32xf32>, memref<1x64x4x32xf32>, memref<1x64x4x32xf32>, memref<1x64x4x32xf32>
  return
}
