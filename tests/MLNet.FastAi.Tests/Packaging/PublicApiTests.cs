using System.Reflection;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Packaging;

/// <summary>
/// The package's public surface is checked in (src/MLNet.FastAi/PublicAPI.txt): any change to it — a type or member
/// made public, removed or changed — fails here until the listing is updated in the same change, so it is seen in
/// review. Run with UPDATE_PUBLIC_API=1 to rewrite the listing after a deliberate change.
/// </summary>
public sealed class PublicApiTests
{
    private static string ListingPath => Path.Combine(ProcessRunner.RepositoryRoot, "src", "MLNet.FastAi", "PublicAPI.txt");

    [Fact]
    public void ThePublicSurface_IsTheCheckedInListing()
    {
        var actual = Listing(typeof(Learner).Assembly);
        if (Environment.GetEnvironmentVariable("UPDATE_PUBLIC_API") == "1") File.WriteAllLines(ListingPath, actual);
        var expected = File.ReadAllLines(ListingPath);
        var added = actual.Except(expected).ToList();
        var removed = expected.Except(actual).ToList();
        Assert.True(added.Count == 0 && removed.Count == 0,
            $"The public surface changed ({ListingPath}; UPDATE_PUBLIC_API=1 rewrites it):\n" +
            string.Join("\n", added.Select(l => "+ " + l).Concat(removed.Select(l => "- " + l))));
    }

    [Fact]
    public void TheListing_NamesEveryPublicType()
    {
        var types = typeof(Learner).Assembly.GetExportedTypes();
        var listing = File.ReadAllLines(ListingPath);
        Assert.Equal(types.Length, listing.Count(l => l.StartsWith("type ", StringComparison.Ordinal)));
    }

    private static List<string> Listing(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            string kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct"
                : typeof(Delegate).IsAssignableFrom(type) ? "delegate" : type.IsAbstract && type.IsSealed ? "static class" : "class";
            var bases = new[] { type.IsEnum || type.IsValueType || type.BaseType == typeof(object) ? null : type.BaseType }
                .Concat(type.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic)).Where(t => t is not null).Select(t => Name(t!));
            lines.Add($"type {kind} {Name(type)}" + (bases.Any() ? " : " + string.Join(", ", bases.Order(StringComparer.Ordinal)) : ""));
            const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(declared).Where(Visible).Select(m => $"  {Describe(m)}").Order(StringComparer.Ordinal))
                lines.Add(member);
        }
        return lines;
    }

    private static bool Visible(MemberInfo member) => member switch
    {
        MethodBase m => (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly) && !m.IsSpecialName || m is ConstructorInfo { IsPublic: true } or ConstructorInfo { IsFamily: true },
        FieldInfo f => (f.IsPublic || f.IsFamily) && !f.IsSpecialName,
        PropertyInfo p => p.GetAccessors(nonPublic: true).Any(a => a.IsPublic || a.IsFamily),
        EventInfo e => e.AddMethod is { IsPublic: true } or { IsFamily: true },
        _ => false,
    };

    private static string Describe(MemberInfo member) => member switch
    {
        ConstructorInfo c => $"ctor({Parameters(c)})",
        MethodInfo m => $"{(m.IsStatic ? "static " : "")}{(m.IsAbstract ? "abstract " : m.IsVirtual && !m.IsFinal ? "virtual " : "")}{Name(m.ReturnType)} {m.Name}{Generic(m)}({Parameters(m)})",
        PropertyInfo p => $"{Name(p.PropertyType)} {p.Name} {{ {string.Join(" ", p.GetAccessors(nonPublic: true).Where(a => a.IsPublic || a.IsFamily).Select(a => a.Name.StartsWith("get_", StringComparison.Ordinal) ? "get;" : a.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.Name == "IsExternalInit") ? "init;" : "set;").Order())} }}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{Name(f.FieldType)} {f.Name}{(f.IsLiteral ? " = " + f.GetRawConstantValue() : "")}",
        EventInfo e => $"event {Name(e.EventHandlerType!)} {e.Name}",
        _ => member.ToString()!,
    };

    private static string Generic(MethodInfo m) => m.IsGenericMethodDefinition ? $"<{string.Join(", ", m.GetGenericArguments().Select(a => a.Name))}>" : "";

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "")}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type type)
    {
        if (type.IsByRef) return Name(type.GetElementType()!);
        if (type.IsArray) return Name(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (Nullable.GetUnderlyingType(type) is { } inner) return Name(inner) + "?";
        if (type.IsGenericParameter) return type.Name;
        string name = type.IsNested ? Name(type.DeclaringType!) + "." + type.Name : (type.Namespace is { Length: > 0 } ns ? ns + "." : "") + type.Name;
        if (!type.IsGenericType) return name;
        int tick = name.IndexOf('`');
        return (tick < 0 ? name : name[..tick]) + "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">";
    }
}
