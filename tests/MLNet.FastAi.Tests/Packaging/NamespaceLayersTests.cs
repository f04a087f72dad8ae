using Mono.Cecil;
using Mono.Cecil.Cil;
using MLNet.FastAi.Training;

namespace MLNet.FastAi.Tests.Packaging;

/// <summary>
/// The package's top namespaces (Data, Training, Pipelines, ...) form layers: reading the compiled assembly — every
/// type's base, fields, signatures and method bodies — no two of them depend on each other, directly or round a loop.
/// </summary>
public sealed class NamespaceLayersTests
{
    [Fact]
    public void TheTopNamespaces_HaveNoCycle()
    {
        var edges = Dependencies();
        var cycles = StronglyConnected(edges.Keys.Select(k => k.From).Concat(edges.Keys.Select(k => k.To)).Distinct().ToList(),
            node => edges.Keys.Where(e => e.From == node).Select(e => e.To)).Where(c => c.Count > 1).ToList();
        Assert.True(cycles.Count == 0, string.Join("\n", cycles.Select(c =>
            $"cycle: {string.Join(" ⇄ ", c)}; for example " + string.Join("; ",
                edges.Where(e => c.Contains(e.Key.From) && c.Contains(e.Key.To)).Select(e => $"{e.Key.From} → {e.Key.To} ({e.Value})")))));
    }

    /// <summary>The layers as README's "How it fits together" lists them: each uses only layers before it.</summary>
    private static readonly string[] Layers =
        ["Internal", "Settings", "Runtime", "Data", "Onnx", "Vision", "Scoring", "Training", "Interpretation", "Recipes", "Pipelines", "Microsoft.ML"];

    [Fact]
    public void EachLayer_UsesOnlyTheLayersBeforeIt()
    {
        var edges = Dependencies();
        Assert.All(edges.Keys.SelectMany(e => new[] { e.From, e.To }).Distinct(), n => Assert.Contains(n, Layers));
        var upward = edges.Where(e => Array.IndexOf(Layers, e.Key.To) > Array.IndexOf(Layers, e.Key.From)).ToList();
        Assert.True(upward.Count == 0, string.Join("\n", upward.Select(e => $"{e.Key.From} → {e.Key.To}: {e.Value}")));
    }

    [Fact]
    public void TheReadingFindsDependencies()
    {
        // The test above means something only if the reading sees real uses: Pipelines uses Training, for one.
        var edges = Dependencies();
        Assert.Contains(("Pipelines", "Training"), edges.Keys);
        Assert.Contains(("Training", "Data"), edges.Keys);
    }

    [Fact]
    public void TheCycleFinder_FindsALoop()
    {
        var graph = new Dictionary<string, string[]> { ["A"] = ["B"], ["B"] = ["C"], ["C"] = ["A"], ["D"] = ["A"] };
        var loops = StronglyConnected(graph.Keys.ToList(), n => graph[n]).Where(c => c.Count > 1).ToList();
        Assert.Equal(["A", "B", "C"], Assert.Single(loops).Order());
    }

    /// <summary>Edges between top namespaces, each with one example use (type → type).</summary>
    private static Dictionary<(string From, string To), string> Dependencies()
    {
        using var module = ModuleDefinition.ReadModule(typeof(Learner).Assembly.Location);
        var edges = new Dictionary<(string, string), string>();
        // The compiler's own types (<Module>, <PrivateImplementationDetails>) belong to no layer.
        static bool Compiler(TypeDefinition t) => t.DeclaringType is null && t.Name.StartsWith('<');
        foreach (var type in module.GetTypes().Where(t => !Compiler(t)))
        {
            string from = Top(type);
            foreach (var used in Uses(type))
            {
                // The package's own types: definitions, or references whose scope is this module (not another assembly).
                var resolved = used as TypeDefinition ?? (used.Scope == module ? used.Resolve() : null);
                if (resolved is null || resolved.Module != module || Compiler(resolved)) continue;
                string to = Top(resolved);
                if (to != from && !edges.ContainsKey((from, to))) edges[(from, to)] = $"{type.FullName} uses {resolved.FullName}";
            }
        }
        return edges;
    }

    /// <summary>MLNet.FastAi.Data.Caching.X → "Data"; nested and compiler-made types count as their outermost type's.</summary>
    private static string Top(TypeDefinition type)
    {
        while (type.DeclaringType is not null) type = type.DeclaringType;
        var parts = type.Namespace.Split('.');
        return parts.Length >= 3 && parts[0] == "MLNet" && parts[1] == "FastAi" ? parts[2] : type.Namespace.Length == 0 ? "(global)" : type.Namespace;
    }

    private static IEnumerable<TypeReference> Uses(TypeDefinition type)
    {
        if (type.BaseType is not null) foreach (var t in Expand(type.BaseType)) yield return t;
        foreach (var i in type.Interfaces) foreach (var t in Expand(i.InterfaceType)) yield return t;
        foreach (var f in type.Fields) foreach (var t in Expand(f.FieldType)) yield return t;
        foreach (var p in type.Properties) foreach (var t in Expand(p.PropertyType)) yield return t;
        foreach (var m in type.Methods)
        {
            foreach (var t in Expand(m.ReturnType)) yield return t;
            foreach (var p in m.Parameters) foreach (var t in Expand(p.ParameterType)) yield return t;
            if (!m.HasBody) continue;
            foreach (var v in m.Body.Variables) foreach (var t in Expand(v.VariableType)) yield return t;
            foreach (var instruction in m.Body.Instructions)
            {
                var operand = instruction.Operand switch
                {
                    TypeReference t => t,
                    MemberReference member => member.DeclaringType,
                    _ => null,
                };
                if (operand is not null) foreach (var t in Expand(operand)) yield return t;
                if (instruction.Operand is MethodReference method)
                {
                    foreach (var t in Expand(method.ReturnType)) yield return t;
                    foreach (var p in method.Parameters) foreach (var t in Expand(p.ParameterType)) yield return t;
                }
            }
        }
    }

    /// <summary>A type and the types inside it: array elements, generic arguments, by-ref targets.</summary>
    private static IEnumerable<TypeReference> Expand(TypeReference? type)
    {
        switch (type)
        {
            case GenericInstanceType generic:
                foreach (var t in Expand(generic.ElementType)) yield return t;
                foreach (var argument in generic.GenericArguments) foreach (var t in Expand(argument)) yield return t;
                break;
            case TypeSpecification specification:
                foreach (var t in Expand(specification.ElementType)) yield return t;
                break;
            case null or GenericParameter:
                break;
            default:
                yield return type;
                break;
        }
    }

    /// <summary>Tarjan's strongly connected components.</summary>
    private static List<List<string>> StronglyConnected(List<string> nodes, Func<string, IEnumerable<string>> next)
    {
        int counter = 0;
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var components = new List<List<string>>();
        void Visit(string node)
        {
            index[node] = low[node] = counter++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var other in next(node))
            {
                if (!index.ContainsKey(other))
                {
                    Visit(other);
                    low[node] = Math.Min(low[node], low[other]);
                }
                else if (onStack.Contains(other)) low[node] = Math.Min(low[node], index[other]);
            }
            if (low[node] != index[node]) return;
            var component = new List<string>();
            string popped;
            do
            {
                popped = stack.Pop();
                onStack.Remove(popped);
                component.Add(popped);
            } while (popped != node);
            components.Add(component);
        }
        foreach (var node in nodes)
            if (!index.ContainsKey(node)) Visit(node);
        return components;
    }
}
