using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FastAi.Internal;

/// <summary>A column computed from the other columns of the same row.</summary>
/// <param name="Name">The new column's name.</param>
/// <param name="Type">Its type.</param>
/// <param name="Sources">The names of the columns it is computed from.</param>
/// <param name="MakeGetter">Makes the getter (a <c>ValueGetter</c> of the column's type) for a row of the extended schema.</param>
internal sealed record AddedColumn(string Name, DataViewType Type, IReadOnlyList<string> Sources, Func<DataViewRow, Delegate> MakeGetter);

/// <summary>
/// How a schema is extended: new annotations for some of its columns, and columns computed row by row appended. The
/// values of existing columns pass through untouched. ML.NET offers no public base for a row-to-row transformer
/// (its own are internal), so <see cref="ExtendedView"/>, <see cref="ExtendedRow"/> and <see cref="ExtendedMapper"/>
/// implement the public interfaces directly.
/// </summary>
internal sealed class SchemaExtension
{
    private readonly IReadOnlyList<AddedColumn> _added;

    public SchemaExtension(DataViewSchema source, IReadOnlyDictionary<string, DataViewSchema.Annotations>? annotations, IReadOnlyList<AddedColumn>? added)
    {
        Source = source;
        _added = added ?? [];
        var builder = new DataViewSchema.Builder();
        foreach (var column in source)
        {
            // Only the visible column of a name gets new annotations: hidden ones keep what they had.
            var replaced = !column.IsHidden && annotations is not null && annotations.TryGetValue(column.Name, out var a) ? a : column.Annotations;
            builder.AddColumn(column.Name, column.Type, replaced);
        }
        foreach (var column in _added) builder.AddColumn(column.Name, column.Type);
        Schema = builder.ToSchema();
    }

    public DataViewSchema Source { get; }

    public DataViewSchema Schema { get; }

    /// <summary>The source columns needed to produce <paramref name="columns"/> of <see cref="Schema"/>.</summary>
    public IEnumerable<DataViewSchema.Column> SourceColumnsFor(IEnumerable<DataViewSchema.Column> columns) =>
        columns.SelectMany(c => c.Index < Source.Count
                ? new[] { Source[c.Index] }
                : Added(c).Sources.Select(name => Source[name]))
            .DistinctBy(c => c.Index);

    public bool IsAdded(DataViewSchema.Column column) => column.Index >= Source.Count;

    public AddedColumn Added(DataViewSchema.Column column) => _added[column.Index - Source.Count];
}

/// <summary>A row of the extended schema over a row of the source.</summary>
internal sealed class ExtendedRow : DataViewRow
{
    private readonly HashSet<int> _activeAdded;
    private readonly Dictionary<int, Delegate> _getters = new();
    private readonly bool _ownsSource;

    /// <param name="extension">The extended schema.</param>
    /// <param name="source">The row underneath.</param>
    /// <param name="active">The columns of the extended schema that will be read.</param>
    /// <param name="ownsSource">Dispose <paramref name="source"/> with this row (false when it is a caller's input row).</param>
    public ExtendedRow(SchemaExtension extension, DataViewRow source, IEnumerable<DataViewSchema.Column> active, bool ownsSource)
    {
        Extension = extension;
        Source = source;
        _ownsSource = ownsSource;
        _activeAdded = active.Where(extension.IsAdded).Select(c => c.Index).ToHashSet();
    }

    private SchemaExtension Extension { get; }

    private DataViewRow Source { get; }

    public override DataViewSchema Schema => Extension.Schema;

    public override long Position => Source.Position;

    public override long Batch => Source.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => Source.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) =>
        Extension.IsAdded(column) ? _activeAdded.Contains(column.Index) : Source.IsColumnActive(Extension.Source[column.Index]);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
    {
        if (!Extension.IsAdded(column)) return Source.GetGetter<TValue>(Extension.Source[column.Index]);
        if (!_activeAdded.Contains(column.Index))
            throw new InvalidOperationException($"Column '{column.Name}' was not asked for when the cursor was made.");
        if (!_getters.TryGetValue(column.Index, out var getter)) _getters[column.Index] = getter = Extension.Added(column).MakeGetter(this);
        return getter as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}, not {typeof(TValue).Name}.");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsSource) Source.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>A cursor of the extended schema over a cursor of the source.</summary>
internal sealed class ExtendedCursor(SchemaExtension extension, DataViewRowCursor source, IEnumerable<DataViewSchema.Column> active)
    : DataViewRowCursor
{
    private readonly ExtendedRow _row = new(extension, source, active, ownsSource: true);

    public override DataViewSchema Schema => _row.Schema;

    public override long Position => _row.Position;

    public override long Batch => _row.Batch;

    public override ValueGetter<DataViewRowId> GetIdGetter() => _row.GetIdGetter();

    public override bool IsColumnActive(DataViewSchema.Column column) => _row.IsColumnActive(column);

    public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _row.GetGetter<TValue>(column);

    public override bool MoveNext() => source.MoveNext();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _row.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>The source view with the extended schema.</summary>
internal sealed class ExtendedView(IDataView source, SchemaExtension extension) : IDataView
{
    public bool CanShuffle => source.CanShuffle;

    public DataViewSchema Schema => extension.Schema;

    public long? GetRowCount() => source.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        return new ExtendedCursor(extension, source.GetRowCursor(extension.SourceColumnsFor(needed), rand), needed);
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        return source.GetRowCursorSet(extension.SourceColumnsFor(needed), n, rand).Select(c => (DataViewRowCursor)new ExtendedCursor(extension, c, needed)).ToArray();
    }
}

/// <summary>
/// The row mapper of an extended schema (what a PredictionEngine uses): rows of <paramref name="inner"/>'s output, or
/// of the input itself when there is no inner mapper, seen through the extension.
/// </summary>
internal sealed class ExtendedMapper(DataViewSchema inputSchema, IRowToRowMapper? inner, SchemaExtension extension) : IRowToRowMapper
{
    public DataViewSchema InputSchema => inputSchema;

    public DataViewSchema OutputSchema => extension.Schema;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var sources = extension.SourceColumnsFor(dependingColumns);
        return inner is null ? sources : inner.GetDependencies(sources);
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        var active = activeColumns.ToList();
        return inner is null
            ? new ExtendedRow(extension, input, active, ownsSource: false)
            : new ExtendedRow(extension, inner.GetRow(input, extension.SourceColumnsFor(active)), active, ownsSource: true);
    }
}
