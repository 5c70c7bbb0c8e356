using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace AuditTrail.Tests.Deployment;

/// <summary>
/// Which namespaces of a compiled assembly use which others: read from everything a type's
/// metadata and IL name (base type, interfaces, fields, signatures, locals, attributes, the
/// operands of its method bodies), so a fully qualified name or a root-namespace type seen
/// without a <c>using</c> counts too. Nested and compiler-generated types count as their
/// outermost declaring type's namespace.
/// </summary>
internal static class NamespaceGraph
{
    /// <summary>Namespace → the namespaces (under <paramref name="prefix"/>) it uses, itself excluded.</summary>
    public static IReadOnlyDictionary<string, IReadOnlySet<string>> Read(string assemblyPath, string prefix)
    {
        using var pe = new PEReader(File.OpenRead(assemblyPath));
        var md = pe.GetMetadataReader();
        var edges = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var names = new SignatureNamespaces(md);
        foreach (var handle in md.TypeDefinitions)
        {
            var from = names.Of(handle);
            if (!InScope(from, prefix))
            {
                continue;
            }
            var used = new HashSet<string>(StringComparer.Ordinal);
            Uses(md, pe, names, md.GetTypeDefinition(handle), used);
            if (!edges.TryGetValue(from, out var set))
            {
                edges[from] = set = new HashSet<string>(StringComparer.Ordinal);
            }
            set.UnionWith(used.Where(u => u != from && InScope(u, prefix)));
        }
        return edges.ToDictionary(e => e.Key, e => (IReadOnlySet<string>)e.Value, StringComparer.Ordinal);
    }

    /// <summary>One cycle of the graph (its namespaces in order, the first repeated at the end), or null when it has none.</summary>
    public static IReadOnlyList<string>? FindCycle(IReadOnlyDictionary<string, IReadOnlySet<string>> graph)
    {
        // Depth-first, in name order so the cycle reported is the same every run.
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the path, 2 done
        var path = new List<string>();
        foreach (var start in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (Visit(start) is { } cycle)
            {
                return cycle;
            }
        }
        return null;

        IReadOnlyList<string>? Visit(string node)
        {
            if (state.TryGetValue(node, out var s))
            {
                return s == 1 ? [.. path[path.IndexOf(node)..], node] : null;
            }
            state[node] = 1;
            path.Add(node);
            foreach (var next in (graph.TryGetValue(node, out var n) ? n : ImmutableHashSet<string>.Empty).Order(StringComparer.Ordinal))
            {
                if (Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
    }

    private static bool InScope(string ns, string prefix) => ns == prefix || ns.StartsWith(prefix + ".", StringComparison.Ordinal);

    private static void Uses(MetadataReader md, PEReader pe, SignatureNamespaces names, TypeDefinition type, HashSet<string> used)
    {
        if (!type.BaseType.IsNil)
        {
            used.UnionWith(names.OfEntity(type.BaseType));
        }
        foreach (var i in type.GetInterfaceImplementations())
        {
            used.UnionWith(names.OfEntity(md.GetInterfaceImplementation(i).Interface));
        }
        Attributes(md, names, type.GetCustomAttributes(), used);
        foreach (var p in type.GetGenericParameters())
        {
            foreach (var c in md.GetGenericParameter(p).GetConstraints())
            {
                used.UnionWith(names.OfEntity(md.GetGenericParameterConstraint(c).Type));
            }
        }
        foreach (var f in type.GetFields())
        {
            var field = md.GetFieldDefinition(f);
            used.UnionWith(field.DecodeSignature(names, null));
            Attributes(md, names, field.GetCustomAttributes(), used);
        }
        foreach (var p in type.GetProperties())
        {
            var property = md.GetPropertyDefinition(p);
            used.UnionWith(property.DecodeSignature(names, null).ReturnType);
            Attributes(md, names, property.GetCustomAttributes(), used);
        }
        foreach (var m in type.GetMethods())
        {
            var method = md.GetMethodDefinition(m);
            var signature = method.DecodeSignature(names, null);
            used.UnionWith(signature.ReturnType);
            used.UnionWith(signature.ParameterTypes.SelectMany(t => t));
            Attributes(md, names, method.GetCustomAttributes(), used);
            foreach (var p in method.GetParameters())
            {
                Attributes(md, names, md.GetParameter(p).GetCustomAttributes(), used);
            }
            if (method.RelativeVirtualAddress != 0)
            {
                Body(md, pe.GetMethodBody(method.RelativeVirtualAddress), names, used);
            }
        }
    }

    private static void Attributes(MetadataReader md, SignatureNamespaces names, CustomAttributeHandleCollection attributes, HashSet<string> used)
    {
        foreach (var a in attributes)
        {
            used.UnionWith(names.OfEntity(md.GetCustomAttribute(a).Constructor));
        }
    }

    private static void Body(MetadataReader md, MethodBodyBlock body, SignatureNamespaces names, HashSet<string> used)
    {
        if (!body.LocalSignature.IsNil)
        {
            used.UnionWith(md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(names, null).SelectMany(t => t));
        }
        var il = body.GetILReader();
        while (il.RemainingBytes > 0)
        {
            var first = il.ReadByte();
            var op = first == 0xFE ? (ILOpCode)(0xFE00 | il.ReadByte()) : (ILOpCode)first;
            var size = OperandSize(op);
            if (size == Token)
            {
                var token = il.ReadInt32();
                if (op is not ILOpCode.Ldstr and not ILOpCode.Calli)
                {
                    used.UnionWith(names.OfEntity(MetadataTokens.EntityHandle(token)));
                }
            }
            else if (size == Switch)
            {
                il.Offset += 4 * il.ReadInt32();
            }
            else
            {
                il.Offset += size;
            }
        }
    }

    private const int Token = -1;
    private const int Switch = -2;

    /// <summary>The <c>no.</c> prefix, which <see cref="ILOpCode"/> does not name.</summary>
    private const ILOpCode NoPrefix = (ILOpCode)0xFE19;

    /// <summary>Bytes after the opcode (ECMA-335 III), or <see cref="Token"/>/<see cref="Switch"/>.</summary>
    private static int OperandSize(ILOpCode op) => op switch
    {
        ILOpCode.Ldarg_s or ILOpCode.Ldarga_s or ILOpCode.Starg_s or ILOpCode.Ldloc_s or ILOpCode.Ldloca_s or ILOpCode.Stloc_s
            or ILOpCode.Ldc_i4_s or ILOpCode.Unaligned or NoPrefix or ILOpCode.Leave_s => 1,
        ILOpCode.Ldarg or ILOpCode.Ldarga or ILOpCode.Starg or ILOpCode.Ldloc or ILOpCode.Ldloca or ILOpCode.Stloc => 2,
        ILOpCode.Ldc_i4 or ILOpCode.Ldc_r4 or ILOpCode.Leave => 4,
        ILOpCode.Ldc_i8 or ILOpCode.Ldc_r8 => 8,
        ILOpCode.Switch => Switch,
        ILOpCode.Jmp or ILOpCode.Call or ILOpCode.Calli or ILOpCode.Callvirt or ILOpCode.Newobj or ILOpCode.Ldstr
            or ILOpCode.Cpobj or ILOpCode.Ldobj or ILOpCode.Stobj or ILOpCode.Castclass or ILOpCode.Isinst or ILOpCode.Unbox or ILOpCode.Unbox_any
            or ILOpCode.Box or ILOpCode.Newarr or ILOpCode.Ldelema or ILOpCode.Ldelem or ILOpCode.Stelem
            or ILOpCode.Ldfld or ILOpCode.Ldflda or ILOpCode.Stfld or ILOpCode.Ldsfld or ILOpCode.Ldsflda or ILOpCode.Stsfld
            or ILOpCode.Refanyval or ILOpCode.Mkrefany or ILOpCode.Ldtoken or ILOpCode.Ldftn or ILOpCode.Ldvirtftn
            or ILOpCode.Initobj or ILOpCode.Constrained or ILOpCode.Sizeof => Token,
        _ when op.IsBranch() => op.GetBranchOperandSize(),
        _ => 0,
    };

    /// <summary>Decodes signatures into the namespaces of this assembly's types they name.</summary>
    private sealed class SignatureNamespaces(MetadataReader md) : ISignatureTypeProvider<ImmutableArray<string>, object?>
    {
        private static readonly ImmutableArray<string> None = [];

        /// <summary>The namespace a type counts as: its outermost declaring type's.</summary>
        public string Of(TypeDefinitionHandle handle)
        {
            var type = md.GetTypeDefinition(handle);
            while (type.IsNested)
            {
                type = md.GetTypeDefinition(type.GetDeclaringType());
            }
            return md.GetString(type.Namespace);
        }

        public ImmutableArray<string> OfEntity(EntityHandle handle) => handle.Kind switch
        {
            HandleKind.TypeDefinition => [Of((TypeDefinitionHandle)handle)],
            HandleKind.TypeSpecification => md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null),
            HandleKind.MethodDefinition => [Of(md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType())],
            HandleKind.FieldDefinition => [Of(md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType())],
            HandleKind.MemberReference => MemberReference(md.GetMemberReference((MemberReferenceHandle)handle)),
            HandleKind.MethodSpecification => MethodSpecification(md.GetMethodSpecification((MethodSpecificationHandle)handle)),
            _ => None,
        };

        private ImmutableArray<string> MemberReference(MemberReference member)
        {
            var parent = OfEntity(member.Parent);
            if (member.GetKind() == MemberReferenceKind.Field)
            {
                return [.. parent, .. member.DecodeFieldSignature(this, null)];
            }
            var signature = member.DecodeMethodSignature(this, null);
            return [.. parent, .. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];
        }

        private ImmutableArray<string> MethodSpecification(MethodSpecification spec) =>
            [.. OfEntity(spec.Method), .. spec.DecodeSignature(this, null).SelectMany(t => t)];

        public ImmutableArray<string> GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => [Of(handle)];

        public ImmutableArray<string> GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => None;

        public ImmutableArray<string> GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        public ImmutableArray<string> GetGenericInstantiation(ImmutableArray<string> genericType, ImmutableArray<ImmutableArray<string>> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(t => t)];

        public ImmutableArray<string> GetFunctionPointerType(MethodSignature<ImmutableArray<string>> signature) =>
            [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(t => t)];

        public ImmutableArray<string> GetModifiedType(ImmutableArray<string> modifier, ImmutableArray<string> unmodifiedType, bool isRequired) => [.. modifier, .. unmodifiedType];

        public ImmutableArray<string> GetArrayType(ImmutableArray<string> elementType, ArrayShape shape) => elementType;

        public ImmutableArray<string> GetSZArrayType(ImmutableArray<string> elementType) => elementType;

        public ImmutableArray<string> GetByReferenceType(ImmutableArray<string> elementType) => elementType;

        public ImmutableArray<string> GetPointerType(ImmutableArray<string> elementType) => elementType;

        public ImmutableArray<string> GetPinnedType(ImmutableArray<string> elementType) => elementType;

        public ImmutableArray<string> GetPrimitiveType(PrimitiveTypeCode typeCode) => None;

        public ImmutableArray<string> GetGenericMethodParameter(object? genericContext, int index) => None;

        public ImmutableArray<string> GetGenericTypeParameter(object? genericContext, int index) => None;
    }
}
