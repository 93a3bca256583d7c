"""LLVM-level helpers for the HNSW kernels: widening loads, cache prefetch, pread.

numba has no float16 arithmetic, prefetch hint or unmapped file read, so these few
operations are emitted directly as LLVM IR (F16C turns the half->float extension into one
vector instruction per 8 lanes; pread resolves against the process's libc, which keeps the
kernels cacheable).
"""

from __future__ import annotations

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def widen(typingctx, value):
    """Element -> float32: float32 as is, uint16 as float16 bits, integers converted."""

    def codegen(context, builder, signature, args):
        (arg,) = args
        float_t = ir.FloatType()
        if value == types.float32:
            return arg
        if value == types.uint16:
            return builder.fpext(builder.bitcast(arg, ir.HalfType()), float_t)
        if value.signed:
            return builder.sitofp(arg, float_t)
        return builder.uitofp(arg, float_t)

    if value == types.float32 or isinstance(value, types.Integer):
        return types.float32(value), codegen
    return None


@intrinsic
def prefetch_line(typingctx, matrix, row, line):
    """Hint the CPU to fetch cache line `line` (64 bytes) of `matrix[row]` (C-contiguous 2-D)."""

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        i64 = ir.IntType(64)
        width = builder.extract_value(array.shape, 1)
        start = builder.gep(array.data, [builder.mul(builder.sext(args[1], i64), width)])
        byte = builder.bitcast(start, ir.IntType(8).as_pointer())
        pointer = builder.gep(byte, [builder.mul(builder.sext(args[2], i64), ir.Constant(i64, 64))])
        fn_t = ir.FunctionType(ir.VoidType(), [pointer.type] + [ir.IntType(32)] * 3)
        fn = cgutils.get_or_insert_function(builder.module, fn_t, "llvm.prefetch.p0i8")
        read, locality, data_cache = (ir.Constant(ir.IntType(32), v) for v in (0, 3, 1))
        builder.call(fn, [pointer, read, locality, data_cache])
        return context.get_dummy_value()

    if (isinstance(matrix, types.Array) and matrix.ndim == 2 and matrix.layout == "C"
            and isinstance(row, types.Integer) and isinstance(line, types.Integer)):
        return types.void(matrix, row, line), codegen
    return None


@njit(cache=True)
def prefetch_row(matrix, row):
    """Prefetch every cache line of `matrix[row]`."""
    for line in range((matrix.shape[1] * matrix.itemsize + 63) // 64):
        prefetch_line(matrix, row, line)


@intrinsic
def pread_into(typingctx, fd, buffer, position):
    """libc pread(fd, buffer, buffer.nbytes, position): fills a 1-D C-contiguous array from a
    file without mapping it (on-disk originals stay out of the resident set)."""

    def codegen(context, builder, signature, args):
        array_t = signature.args[1]
        array = context.make_array(array_t)(context, builder, args[1])
        i64 = ir.IntType(64)
        itemsize = context.get_abi_sizeof(context.get_data_type(array_t.dtype))
        count = builder.mul(builder.extract_value(array.shape, 0), ir.Constant(i64, itemsize))
        fn_t = ir.FunctionType(i64, [ir.IntType(32), ir.IntType(8).as_pointer(), i64, i64])
        fn = cgutils.get_or_insert_function(builder.module, fn_t, "pread")
        data = builder.bitcast(array.data, ir.IntType(8).as_pointer())
        return builder.call(fn, [builder.trunc(args[0], ir.IntType(32)), data, count, args[2]])

    if (isinstance(fd, types.Integer) and isinstance(buffer, types.Array) and buffer.ndim == 1
            and buffer.layout == "C" and isinstance(position, types.Integer)):
        return types.int64(fd, buffer, position), codegen
    return None
