namespace MLNet.FastAi.Data.Sources;

/// <summary>
/// A CSV file listing images and their labels (fastai's <c>labels.csv</c>), read into full paths and labels: every
/// named file must exist, every cell must be filled, and no file may be listed twice. Errors name the file and line.
/// </summary>
internal static class LabelledCsv
{
    /// <summary>One listed image: its full path, its label, the validation column's cell (when asked for) and its line.</summary>
    public sealed record Row(string Path, string Label, string? ValidCell, int Line);

    /// <param name="csvPath">The CSV file.</param>
    /// <param name="imageFolder">Folder the file names are relative to.</param>
    /// <param name="fileNameColumn">The column of file names: a header name or a zero-based index.</param>
    /// <param name="labelColumn">The column of labels: a header name or a zero-based index.</param>
    /// <param name="hasHeader">Whether the first row names the columns.</param>
    /// <param name="suffix">Appended to every file name (fastai's <c>suff</c>).</param>
    /// <param name="validColumn">A column marking validation rows (read as text), or null.</param>
    public static List<Row> Read(string csvPath, string imageFolder, string fileNameColumn, string labelColumn, bool hasHeader, string suffix,
        string? validColumn = null)
    {
        var table = CsvTable.Read(csvPath);
        int first = hasHeader ? 1 : 0;
        if (table.Count <= first) throw new InvalidDataException($"CSV file '{csvPath}' has no data rows.");
        int fileIndex = ColumnIndex(table, hasHeader, fileNameColumn, "file name", csvPath);
        int labelIndex = ColumnIndex(table, hasHeader, labelColumn, "label", csvPath);
        int? validIndex = validColumn is null ? null : ColumnIndex(table, hasHeader, validColumn, "validation", csvPath);
        int needed = Math.Max(fileIndex, Math.Max(labelIndex, validIndex ?? 0));
        var items = new List<Row>();
        var listed = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int r = first; r < table.Count; r++)
        {
            int line = r + 1;
            var cells = table[r];
            if (cells.Length <= needed)
                throw new InvalidDataException($"CSV file '{csvPath}', line {line}: {cells.Length} columns, but column {needed} is needed.");
            string name = cells[fileIndex].Trim() + suffix, label = cells[labelIndex].Trim();
            if (name.Length == suffix.Length) throw new InvalidDataException($"CSV file '{csvPath}', line {line}: empty file name.");
            if (label.Length == 0) throw new InvalidDataException($"CSV file '{csvPath}', line {line}: empty label.");
            string full = Path.GetFullPath(Path.Combine(imageFolder, name));
            if (!File.Exists(full)) throw new FileNotFoundException($"CSV file '{csvPath}', line {line} names '{name}', but '{full}' does not exist.", full);
            if (listed.TryGetValue(full, out int earlier))
                throw new InvalidDataException($"CSV file '{csvPath}', line {line}: '{name}' is listed twice (already listed on line {earlier}).");
            listed[full] = line;
            items.Add(new Row(full, label, validIndex is { } v ? cells[v] : null, line));
        }
        return items;
    }

    /// <summary>A column given by header name, else by zero-based index.</summary>
    private static int ColumnIndex(List<string[]> table, bool hasHeader, string nameOrIndex, string role, string csvPath)
    {
        if (hasHeader && Array.IndexOf(table[0], nameOrIndex) is var byName and >= 0) return byName;
        if (int.TryParse(nameOrIndex, out int index) && index >= 0 && index < table[0].Length) return index;
        string columns = hasHeader ? $"its columns are {string.Join(", ", table[0])}" : $"its rows have {table[0].Length} columns";
        throw new InvalidDataException($"CSV file '{csvPath}' has no {role} column '{nameOrIndex}'; {columns}.");
    }
}
