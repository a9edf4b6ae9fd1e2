using BenchmarkDotNet.Running;

namespace Vswitch.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release --project bench/Vswitch.Benchmarks -- --filter '*'</c>.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
